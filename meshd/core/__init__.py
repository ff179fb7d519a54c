"""The pure core: log rules, version vectors, dedup, pricing, blocks and reports.

Nothing in this package touches sockets, files or clocks; time comes in as a parameter.
"""

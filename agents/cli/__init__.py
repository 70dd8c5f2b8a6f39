"""`hub`: the one command users run, and its small commands (produce, tail, simulate).

May import everything else of the project; nothing imports it.
"""

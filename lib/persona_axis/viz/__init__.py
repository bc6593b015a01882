"""Layer 10, viz: what the reader sees.

``plots`` (matplotlib figures), ``interactive`` (plotly persona and trait maps, trajectories),
``figdata`` (the CSV behind each figure), ``live`` (the live demo's session and panel).
"""

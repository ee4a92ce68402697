"""What the maps show, as data: one module per map, each calling the domain functions.

The folium builders in ``maps/`` only draw; every number on a map (亩, output, classes,
days idle) comes from here or from the package that owns it (hggis.evaluation,
hggis.idle, hggis.reserves), and access is checked here, not in the routes.
"""

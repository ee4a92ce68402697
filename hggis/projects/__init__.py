"""The project pipeline (项目库) and the chain lists (锻长板补短板清单) of the cluster plan."""

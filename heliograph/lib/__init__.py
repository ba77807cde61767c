"""Libraries shared by the portal, named as CKAN names them."""

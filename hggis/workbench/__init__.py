"""What the web workbench shows: page-shaped reads (parcel page, search, users) over the services.

The rules stay in their packages (parcel edits, idle land, evaluation, reserves, imports,
access); these modules only gather and label what a page shows, so a number on a page is
the number the API returns and the CLI prints.
"""

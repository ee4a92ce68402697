"""A cache of the public tiles and maps in front of the app, purged precisely from the history."""

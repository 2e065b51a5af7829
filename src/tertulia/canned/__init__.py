"""Canned responses: texts a tenant's team inserts in the composer by typing `/` and a shortcut."""

"""Messenger (`facebook`) and Instagram (`instagram`): Meta's Messenger Platform, one wire format
for both (an Instagram professional account stands where a Facebook Page does)."""

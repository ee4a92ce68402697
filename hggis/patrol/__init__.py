"""动态巡查: what an officer or park manager sees on site, with photos, in the parcel's record."""

"""The investor's side of the land on offer: public terms, commitments, distances, enquiries, the sheet."""

"""Idle and low-efficiency land: 《闲置土地处置办法》(国土资源部令第53号) and 腾笼换鸟.

rules      versioned rule parameters, rule catalogue with legal texts, reason codes, banned list
calendar   "one full year" on calendar dates (民法典 第二百零一、二百零二条)
scan       set-based scan of every contracted parcel as of a date; results kept per scan
cases      the case state machine: notice → finding → listing → disposal → reserve → re-offer
flags      park managers' flags, confirmed or dismissed by county officers
deadlines  overdue investigations, thresholds ahead, cases waiting on the officer
listing    the public listing of confirmed idle land (location, holder, idle since)
documents  the legal documents: required facts per kind, office numbering, content; service periods
parcel_map the 宗地图 (parcel, neighbours, corners in the office's GK zone) as data and drawing primitives
render_*   DOCX (python-docx), PDF (reportlab, vector map), PNG map (Pillow); fonts.py the CJK font
"""

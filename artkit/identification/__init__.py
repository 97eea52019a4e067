"""Which artwork of a collection a photo shows: a shortlist from the index's embeddings,
re-ranked by spatial verification on local features (a RANSAC homography), and a
calibrated rule that names an item or answers ``unknown``. The API joins it to detection
(:mod:`artkit.api.identify`)."""

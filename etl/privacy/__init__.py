"""Personal data: pseudonyms, erasure and its proof, the landing zone's scrubbing, subject
access."""

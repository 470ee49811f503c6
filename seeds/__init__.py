"""Reference data (``seeds.reference``) and the deterministic demo data set (``seeds.demo``)."""

"""What comes in: QPP JSON submissions, the scoring context (as a year declares it), and the safe readers and bounds every input goes through."""

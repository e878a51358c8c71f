"""Dataset acquisition: verified downloads (:mod:`.fetch`) and safe archive extraction (:mod:`.archive`)."""

"""The studio library behind ``gfv-studio``: a decoded stream with cached edited renderings
(:mod:`.session`) and its per-picture parameter plot (:mod:`.plot`)."""

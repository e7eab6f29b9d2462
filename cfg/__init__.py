"""Configuration files shipped with the package: encoder configurations (``encoder/*.yaml``,
:mod:`refsw.config`) and CTC test configurations (``ctc/*.yaml``, :mod:`ctc.config`)."""

"""The command-line apps (VTM's EncoderApp / DecoderApp layer): ``gfv-encode``, ``gfv-decode``,
``gfv-demo`` and ``gfv-check``. They parse arguments and print; the libraries do the work."""

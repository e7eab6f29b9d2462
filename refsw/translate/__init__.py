"""Parameter translators between the GFV models' representations (:mod:`.interface`)."""

from .interface import NoTranslatorError, Translator, parse_translator_uri, translator_uri

__all__ = ["NoTranslatorError", "Translator", "parse_translator_uri", "translator_uri"]

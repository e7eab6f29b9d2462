"""Parameter translators between the GFV models' representations (:mod:`.interface`)."""

from .interface import NoTranslatorError, Translator, parse_translator_uri, translator_uri
from .registry import IdentityTranslator, available_translators, get_translator, register_translator

__all__ = [
    "IdentityTranslator",
    "NoTranslatorError",
    "Translator",
    "available_translators",
    "get_translator",
    "parse_translator_uri",
    "register_translator",
    "translator_uri",
]

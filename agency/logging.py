import logging
import re

# Bearer tokens, "access_token=..." query strings and Fernet ciphertexts never reach a log line.
_PATTERNS = [
    re.compile(r"(?i)(authorization:\s*(?:bearer|token)\s+)[^\s'\"]+"),
    re.compile(r"(?i)((?:access|refresh)_token[\"']?\s*[:=]\s*[\"']?)[^\s&'\",}]+"),
    re.compile(r"(?i)((?:secret|password|api_key)[\"']?\s*[:=]\s*[\"']?)[^\s&'\",}]+"),
    re.compile(r"()gAAAAA[0-9A-Za-z_\-=]{20,}"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # The traceback too: a requests error names the URL, query string and token with it.
        # Formatters print exc_text when it is set, so the redacted text is what goes out.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

"""WeChat's message encryption (compatible and safe modes) with the current and the previous EncodingAESKey.

WeRoBot's `MessageCrypt` does the AES; this adds what it lacks: a second key during a key change (try the new
key, then the old, and answer with the one that worked) and errors we can map to 403/400 instead of a 500.
"""

from __future__ import annotations

from werobot.crypto import MessageCrypt
from werobot.utils import get_signature


class CryptoRejected(Exception):
    """The encrypted body is not from WeChat for this account (bad msg_signature, wrong AppId or key)."""


class InboundCrypto:
    def __init__(self, token: str, app_id: str, keys: list[str]) -> None:
        self.token = token
        self.app_id = app_id
        self.crypts = [MessageCrypt(token, key, app_id) for key in keys if key]

    @property
    def enabled(self) -> bool:
        return bool(self.crypts)

    def decrypt(self, timestamp: str, nonce: str, msg_signature: str, encrypted: str) -> tuple[bytes, int]:
        """Return the plaintext XML and the index of the key that opened it."""
        if get_signature(self.token, timestamp, nonce, encrypted) != msg_signature:
            raise CryptoRejected("bad msg_signature")
        for index, crypt in enumerate(self.crypts):
            try:
                return crypt.prp_crypto.decrypt(encrypted, self.app_id), index
            except Exception:  # wrong key, padding or AppId: try the next key
                continue
        raise CryptoRejected("no EncodingAESKey opens this message, or its AppId is not ours")

    def encrypt(self, xml: str, key_index: int, timestamp: str, nonce: str) -> str:
        return self.crypts[key_index].encrypt_message(xml, timestamp=timestamp, nonce=nonce)

"""QR codes for the wall of a station: an SVG that opens its public page."""

from __future__ import annotations

import qrcode
import qrcode.image.svg

__all__ = ["qr_svg"]


def qr_svg(url: str) -> str:
    """An SVG QR code (error correction M, survives a little dirt on a printed sheet)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(url)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    # Scale to the printed box instead of the fixed millimetre size.
    return svg.replace('width="', 'data-w="', 1).replace('height="', 'data-h="', 1)

"""QR codes for the wall of a station: an SVG that opens its public page."""

from __future__ import annotations

import qrcode
import qrcode.image.svg

__all__ = ["UntrustedHost", "public_url", "qr_svg"]


class UntrustedHost(ValueError):
    """The request named a host the site does not answer to, and no public URL is set."""

    def __init__(self, host):
        super().__init__(f"host {host!r} is not trusted; set YIZHAN_PUBLIC_URL")
        self.host = host
        self.zh = "未配置站点的公开地址（YIZHAN_PUBLIC_URL），且请求的主机名不受信任，无法生成二维码。"


def public_url(path: str, *, base_url: str = "", host: str = "", scheme: str = "http",
               trusted_hosts=()) -> str:
    """The absolute URL a printed sheet or an outside app should use for ``path``.

    A configured ``base_url`` always wins: a QR code on a station's wall must not
    depend on the Host header of whoever asked for the sheet.  Without one, the
    request's ``host`` is used only if it is trusted (an entry without a port
    matches the host on any port).

    Examples
    --------
    >>> public_url("/stations/1", base_url="https://yizhan.example.cn/")
    'https://yizhan.example.cn/stations/1'
    """
    if base_url:
        return base_url.rstrip("/") + path
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    allowed = {h.strip().lower() for h in trusted_hosts if h.strip()}
    if host and (host.lower() in allowed or name.lower() in allowed):
        return f"{'https' if scheme == 'https' else 'http'}://{host}{path}"
    raise UntrustedHost(host)


def qr_svg(url: str) -> str:
    """An SVG QR code (error correction M, survives a little dirt on a printed sheet)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(url)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    # Scale to the printed box instead of the fixed millimetre size.
    return svg.replace('width="', 'data-w="', 1).replace('height="', 'data-h="', 1)

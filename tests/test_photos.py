"""Nomination photos as an attacker sends them: scan bombs, heavy images, hidden text, floods.

A crafted JPEG is refused by counting its scans before any decoder sees it; every
other photo is decoded in a child process within limits; what is stored carries no
comment, EXIF, ICC, XMP or text chunk; each account uploads a limited number an hour.
The crafted files come from scripts/bench/photo_bombs.py, which the benchmarks use too.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import struct
from pathlib import Path

import pytest

from stations import campaign as cp
from stations.accounts import limits, tokens, users
from stations.campaign import nominations
from tests.conftest import csrf_token, make_station

ROOT = Path(__file__).resolve().parents[1]
PHONE = "13912345678"


def _load_bombs():
    spec = importlib.util.spec_from_file_location("photo_bombs", ROOT / "scripts" / "bench" / "photo_bombs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bombs = _load_bombs()


@pytest.fixture
def decoders(monkeypatch):
    """The photos handed to a decoder process, counted (their sizes)."""
    started = []
    real = getattr(nominations, "run_child", None)

    def counting(data, *args, **kwargs):
        started.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(nominations, "run_child", counting, raising=False)
    return started


@pytest.fixture
def world(app, fresh_db):
    db = fresh_db
    users.add_user(db, "dc", "union-pass-1", "union", "东城区总工会", create_union=True)
    own = [make_station(db, name=f"东城驿站{i}", host_union="东城区总工会", lon=116.39 + i * 0.001) for i in range(3)]
    admin = users.get_user(db, "admin")
    cid = cp.create_campaign(db, {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal", "quota": 2,
                                  "subsidy_yuan": 30000, "reviewers_per_station": 1}, admin)
    token = tokens.issue_token(db, users.get_user(db, "dc")["id"])
    admin_token = tokens.issue_token(db, admin["id"])
    return {"db": db, "cid": cid, "own": own[0], "others": own[1:], "bearer": {"Authorization": f"Bearer {token}"},
            "admin": {"Authorization": f"Bearer {admin_token}"}}


def _photo(size=(640, 480), mode="RGB", **save) -> bytes:
    """A photo-like image (noise over a gradient) saved with ``save`` options."""
    from PIL import Image

    noise = Image.effect_noise(size, 40).convert("L")
    bands = [noise, Image.linear_gradient("L").resize(size), Image.radial_gradient("L").resize(size)]
    image = Image.merge("RGB", bands).convert(mode)
    out = io.BytesIO()
    image.save(out, save.pop("format", "JPEG"), **save)
    return out.getvalue()


def _jpeg_header_markers(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment before the first scan, walked by length."""
    assert data[:2] == b"\xff\xd8"
    pos, found = 2, []
    while True:
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        found.append((marker, data[pos + 4:pos + 2 + length]))
        if marker == 0xDA:
            return found
        pos += 2 + length


# --- scan bombs -------------------------------------------------------------------------------

def test_a_scan_bomb_is_refused_by_counting_its_scans_before_any_decoder(decoders):
    bomb = bombs.scan_bomb_jpeg(scans=3000, size=(1024, 1024))
    assert len(bomb) < 40_000  # far under 5 MB, and 1 Mpx: the old checks let it through
    with pytest.raises(cp.CampaignError) as refused:
        cp.read_photo(bomb, "活动现场.jpg")
    assert refused.value.field == "photos" and refused.value.status == 400
    assert "照片“活动现场.jpg”" in refused.value.message and "渐进式 JPEG" in refused.value.message
    assert "普通 JPEG" in refused.value.message  # says what to do
    assert decoders == []  # no decoder process was started for it
    # the walk stops at the first scan past the limit: 41 scans read, not 3000
    from stations.photos import MAX_JPEG_SCANS, jpeg_scans

    assert jpeg_scans(bomb) == MAX_JPEG_SCANS + 1 and jpeg_scans(bomb, stop_after=10**6) == 3000
    # the upload of issue 14 (20,000 scans over 36 Mpx: minutes of decoding) likewise
    with pytest.raises(cp.CampaignError, match="渐进式 JPEG"):
        cp.read_photo(bombs.scan_bomb_jpeg(), "x.jpg")
    assert decoders == []


def test_junk_between_segments_does_not_hide_scans_from_the_count():
    from stations.photos import jpeg_scans

    bomb = bombs.scan_bomb_jpeg(scans=500, size=(64, 64))
    first_extra = bomb.index(b"\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x10")
    # libjpeg skips stray bytes between segments ("extraneous bytes before marker")
    # and goes on decoding: so must the count
    hidden = bomb[:first_extra] + b"junk\x00\x01" + bomb[first_extra:]
    assert jpeg_scans(hidden, stop_after=10**6) == 500
    with pytest.raises(cp.CampaignError, match="渐进式 JPEG"):
        cp.read_photo(hidden, "a.jpg")


@pytest.mark.parametrize("save, scans", [
    ({"progressive": True}, 10), ({"progressive": True, "optimize": True, "quality": 95}, 10),
    ({"progressive": True, "subsampling": 0}, 10), ({}, 1), ({"restart_marker_rows": 1}, 1),
    ({"progressive": True, "mode": "L"}, 6)])
def test_photos_as_cameras_and_editors_write_them_still_pass(decoders, save, scans):
    from stations.photos import jpeg_scans

    mode = save.pop("mode", "RGB")
    data = _photo(mode=mode, **save)
    assert jpeg_scans(data) == scans
    blob, ext, kind, width, height = cp.read_photo(data, "a.jpg")
    assert (ext, kind, width, height) == ("jpg", "image/jpeg", 640, 480)
    assert blob[:3] == b"\xff\xd8\xff" and decoders == [len(data)]


def test_a_phones_mpo_is_taken_as_its_first_frame(decoders):
    from PIL import Image

    out = io.BytesIO()
    second = Image.new("RGB", (64, 48), "blue")  # a phone's depth map or preview
    Image.new("RGB", (64, 48), "red").save(out, "MPO", save_all=True, append_images=[second])
    blob, ext, _, width, height = cp.read_photo(out.getvalue(), "IMG_0001.jpg")
    with Image.open(io.BytesIO(blob)) as stored:
        assert (ext, width, height, stored.format) == ("jpg", 64, 48, "JPEG") and stored.getpixel((0, 0))[0] > 250


def test_an_exif_thumbnail_with_scans_of_its_own_does_not_count(decoders):
    from stations.photos import MAX_JPEG_SCANS, jpeg_scans

    thumbnail = bombs.scan_bomb_jpeg(scans=MAX_JPEG_SCANS + 5, size=(160, 120))
    photo = bombs.with_exif_thumbnail(bombs.progressive_jpeg((320, 240)), thumbnail)
    assert photo.count(b"\xff\xda") == 10 + MAX_JPEG_SCANS + 5  # counting bytes would refuse it
    assert jpeg_scans(photo) == 10
    blob, ext, _, width, height = cp.read_photo(photo, "a.jpg")
    assert (ext, width, height) == ("jpg", 320, 240) and decoders == [len(photo)]
    assert thumbnail[-200:] not in blob and b"Exif" not in blob  # and the thumbnail is gone


# --- the decoder's limits ---------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _heavy_png() -> bytes:
    """A small file (about 150 KB) that asks for 6000×6000 RGBA pixels: ~2 s and
    ~400 MB to decode and re-encode."""
    from PIL import Image

    out = io.BytesIO()
    Image.linear_gradient("L").resize((6000, 6000)).convert("RGBA").save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("limits_", [{"wall_seconds": 0.05}, {"memory_mb": 100}, {"cpu_seconds": 1}],
                         ids=["wall-clock", "memory", "cpu"])
def test_a_photo_past_the_decoders_limits_is_refused_cleanly(decoders, limits_):
    from stations.photos import DecodeLimits

    heavy = _heavy_png()
    with pytest.raises(cp.CampaignError) as refused:
        cp.read_photo(heavy, "大图.png", limits=DecodeLimits(**limits_))
    assert refused.value.field == "photos" and refused.value.status == 400
    assert refused.value.message.startswith("照片“大图.png”解码超时/太复杂") and "请缩小" in refused.value.message
    assert decoders == [len(heavy)]


def test_the_same_heavy_photo_is_taken_within_the_default_limits():
    assert cp.read_photo(_heavy_png(), "大图.png")[1:] == ("png", "image/png", 2560, 2560)


def test_a_photo_that_finds_every_decoder_busy_is_refused_with_503(decoders, monkeypatch):
    import threading

    from stations.photos import DecodeLimits, sandbox

    taken = threading.BoundedSemaphore(1)
    taken.acquire()  # the one decoder of this process is busy with someone else's photo
    monkeypatch.setattr(sandbox, "_slots", taken)
    with pytest.raises(cp.CampaignError) as refused:
        cp.read_photo(_photo(), "a.jpg", limits=DecodeLimits(wall_seconds=0.05))
    assert refused.value.status == 503 and refused.value.field == "photos" and "稍后再试" in refused.value.message


def test_an_api_photo_past_the_limits_answers_400_and_stores_nothing(client, world, monkeypatch):
    from stations.photos import DecodeLimits

    monkeypatch.setattr(nominations, "DECODE_LIMITS", DecodeLimits(wall_seconds=0.05))
    answer = client.post(f"/api/v1/campaigns/{world['cid']}/nominations", headers=world["bearer"],
                         data={"station_id": str(world["own"]), "reason": "照片很大的推荐",
                               "photos": [(io.BytesIO(_photo()), "a.jpg")]}, content_type="multipart/form-data")
    error = answer.get_json()["error"]
    assert answer.status_code == 400 and error["parameter"] == "photos" and "解码超时/太复杂" in error["message"]
    assert world["db"].execute("SELECT count(*) FROM nominations").fetchone()[0] == 0


# --- what is stored carries no hidden text ----------------------------------------------------

def _srgb_icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_jpeg_comments_and_app_segments_do_not_survive(decoders):
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = f"Phone {PHONE}"  # Make
    exif[0x8825] = {2: (39.0, 54.0, 31.0), 1: "N"}
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{PHONE}</dc:creator></x:xmpmeta>'.encode()
    data = _photo(progressive=True, exif=exif, comment=f"联系人 {PHONE}".encode(), icc_profile=_srgb_icc(), xmp=xmp)
    data = bombs.with_segment(data, 0xED, b"Photoshop 3.0\x00" + PHONE.encode())  # APP13
    data = bombs.with_segment(data, 0xFE, f"tel:{PHONE}".encode("utf-16-le"))  # a second COM
    markers = [m for m, _ in _jpeg_header_markers(data)]
    assert {0xFE, 0xE1, 0xE2, 0xED} <= set(markers)  # the upload does carry them
    blob = cp.read_photo(data, "a.jpg")[0]
    found = _jpeg_header_markers(blob)
    apps = [(m, payload[:5]) for m, payload in found if 0xE0 <= m <= 0xEF or m == 0xFE]
    assert apps == [(0xE0, b"JFIF\x00")]  # the JFIF header libjpeg writes, nothing else
    assert PHONE.encode() not in blob and PHONE.encode("utf-16-le") not in blob
    with Image.open(io.BytesIO(blob)) as stored:
        assert not stored.getexif() and "comment" not in stored.info and "icc_profile" not in stored.info
        assert stored.size == (640, 480)


def _png_chunks(data: bytes) -> list[bytes]:
    pos, kinds = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        kinds.append(kind)
        pos += 12 + length
    return kinds


def test_png_text_exif_and_profile_chunks_do_not_survive(decoders):
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", PHONE)
    info.add_text("Comment", f"tel {PHONE}", zip=True)
    info.add_itxt("Description", f"联系 {PHONE}", zip=True)
    exif = Image.Exif()
    exif[0x010F] = PHONE
    data = _photo(format="PNG", mode="RGBA", pnginfo=info, exif=exif, icc_profile=_srgb_icc())
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"} <= set(_png_chunks(data))
    blob = cp.read_photo(data, "a.png")[0]
    assert set(_png_chunks(blob)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}, _png_chunks(blob)
    assert PHONE.encode() not in blob
    # a palette's transparent colour is part of the pixels: it stays
    from PIL import ImageDraw

    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255])
    ImageDraw.Draw(palette).rectangle((0, 0, 15, 31), fill=1)
    out = io.BytesIO()
    palette.save(out, "PNG", transparency=1, pnginfo=info)
    with Image.open(io.BytesIO(cp.read_photo(out.getvalue(), "p.png")[0])) as stored:
        pixels = stored.convert("RGBA")
        assert pixels.getpixel((0, 0))[3] == 0 and pixels.getpixel((20, 0)) == (255, 0, 0, 255)


def test_webp_exif_and_xmp_do_not_survive(decoders):
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00\x00\x00" + PHONE.encode()
    data = _photo(format="WEBP", exif=exif, xmp=f"<x>{PHONE}</x>".encode(), icc_profile=_srgb_icc())
    assert PHONE.encode() in data
    blob = cp.read_photo(data, "a.webp")[0]
    assert blob[:4] == b"RIFF" and blob[8:12] == b"WEBP"
    chunks, pos = [], 12
    while pos + 8 <= len(blob):
        kind, length = blob[pos:pos + 4], struct.unpack("<I", blob[pos + 4:pos + 8])[0]
        chunks.append(kind)
        pos += 8 + length + (length & 1)
    assert not {b"EXIF", b"XMP ", b"ICCP"} & set(chunks) and PHONE.encode() not in blob


# --- uploads per account ----------------------------------------------------------------------

def _files(n):
    return [(io.BytesIO(bombs.progressive_jpeg((64, 48))), f"{i}.jpg") for i in range(n)]


def test_an_account_past_its_hourly_photos_gets_429_on_the_api(client, world, monkeypatch):
    client.application.config["YIZHAN_PHOTO_UPLOADS_PER_USER"] = 3
    cid, own = world["cid"], world["own"]
    # a photo refused before any decoding costs no place
    bomb = client.post(f"/api/v1/campaigns/{cid}/nominations", headers=world["bearer"],
                       content_type="multipart/form-data",
                       data={"station_id": str(own), "reason": "带一张坏照片",
                             "photos": [(io.BytesIO(bombs.scan_bomb_jpeg(scans=100, size=(64, 64))), "b.jpg")]})
    assert bomb.status_code == 400
    made = client.post(f"/api/v1/campaigns/{cid}/nominations", headers=world["bearer"],
                       content_type="multipart/form-data",
                       data={"station_id": str(own), "reason": "带两张照片", "photos": _files(2)})
    assert made.status_code == 201 and made.get_json()["photos"] == 2
    more = f"/api/v1/campaigns/{cid}/nominations/{own}/photos"
    refused = client.post(more, headers=world["bearer"], data={"photos": _files(2)}, content_type="multipart/form-data")
    assert refused.status_code == 429, refused.get_json()
    assert int(refused.headers["Retry-After"]) > 0
    error = refused.get_json()["error"]
    assert "每小时最多 3 张" in error["message"] and "分钟后再试" in error["message"]
    assert error["retry_after"] == int(refused.headers["Retry-After"])
    # refused all together: the third place is still free, and nothing was stored
    assert world["db"].execute("SELECT count(*) FROM nomination_photos").fetchone()[0] == 2
    one = client.post(more, headers=world["bearer"], data={"photos": _files(1)}, content_type="multipart/form-data")
    assert one.status_code == 201 and one.get_json()["photos"] == 3
    # the limit is the account's: the organiser may still upload
    other = world["others"][0]
    assert client.post(f"/api/v1/campaigns/{cid}/nominations", headers=world["admin"],
                       content_type="multipart/form-data",
                       data={"station_id": str(other), "reason": "组织者推荐", "photos": _files(1)}).status_code == 201
    # an hour later the account may upload again
    now = limits.clock()
    monkeypatch.setattr(limits, "clock", lambda: now + 2 * 3600)
    assert client.post(more, headers=world["bearer"], data={"photos": _files(1)},
                       content_type="multipart/form-data").status_code == 201


def test_an_account_past_its_hourly_photos_is_told_on_the_form_and_keeps_what_it_typed(client, world):
    client.application.config["YIZHAN_PHOTO_UPLOADS_PER_USER"] = 3
    cid = world["cid"]
    client.post("/login", data={"username": "dc", "password": "union-pass-1", "csrf_token": csrf_token(client)})
    page = f"/campaigns/{cid}/nominate"
    token = csrf_token(client, page)
    first = client.post(page, data={"csrf_token": token, "station_id": str(world["own"]), "reason": "照片齐全的站点",
                                    "photos": _files(3)}, content_type="multipart/form-data")
    assert first.status_code == 302
    typed = "第二个站点，骑手常来歇脚"
    refused = client.post(page, data={"csrf_token": token, "station_id": str(world["others"][0]), "reason": typed,
                                      "photos": _files(1)}, content_type="multipart/form-data")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "上传照片太频繁了" in html and "每小时最多 3 张" in html and typed in html
    assert world["db"].execute("SELECT count(*) FROM nominations").fetchone()[0] == 1

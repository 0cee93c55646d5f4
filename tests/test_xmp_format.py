"""Issue 12 #10 and #11: sidecars other programs accept, with the bytes the app does not change
kept, and DTDs refused by the parser whatever the encoding."""

from __future__ import annotations

import threading

import pytest
from xmp_samples import DIGIKAM, written

from resnet_desktop.core.sidecars.xmp import XmpError, merge_keywords, read_keywords

TRAILER = '<?xpacket end="w"?>\n'


@pytest.mark.parametrize("after", [
    "<!-- written by </x:xmpmeta> tools -->\n",
    "<?note see </rdf:RDF> and </x:xmpmeta>?>\n",
], ids=["comment", "processing-instruction"])
def test_markup_after_the_root_is_kept_byte_for_byte(tmp_path, exiftool, after):
    padded = DIGIKAM.replace(TRAILER, " " * 2048 + "\n" + after + TRAILER)
    merged = merge_keywords(padded.encode(), ["tabby"], model="m")
    tail = padded[padded.index("</x:xmpmeta>"):]
    assert merged.decode().endswith(tail)
    assert merged.decode().startswith(padded[:padded.index("<x:xmpmeta")])
    path = written(tmp_path, merged)
    assert exiftool.keywords(path)["subject"] == ["holiday", "tabby"]
    assert exiftool.warnings(path) == []


def test_a_self_closing_root_keeps_its_packet_trailer(tmp_path, exiftool):
    empty = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
             '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>\n' + TRAILER)
    merged = merge_keywords(empty.encode(), ["tabby"], model="m").decode()
    assert merged.endswith("</x:xmpmeta>\n" + TRAILER)
    path = written(tmp_path, merged)
    assert exiftool.keywords(path)["tags_list"] == ["ImageNet/tabby"]
    assert exiftool.warnings(path) == []


def test_control_characters_in_a_label_never_make_the_file_unparsable(tmp_path, exiftool):
    merged = merge_keywords(None, ["tabby\x07cat\x00", "\x1b[31mred"], model="m\x0c")
    assert read_keywords(merged).subject == ("tabby cat", "[31mred")
    path = written(tmp_path, merged)
    assert exiftool.keywords(path)["hierarchical"] == ["ImageNet|tabby cat", "ImageNet|[31mred"]
    assert exiftool.warnings(path) == []


def test_a_sidecar_declared_latin1_gets_no_utf8_bytes_and_reads_right(tmp_path, exiftool):
    latin1 = DIGIKAM.replace("– été", "ete").replace(
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>',
        '<?xml version="1.0" encoding="ISO-8859-1"?>').encode("ascii")
    merged = merge_keywords(latin1, ["crème brûlée", "日本"], model="m")
    assert merged.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert merged.isascii() and b"cr&#232;me br&#251;l&#233;e" in merged
    path = written(tmp_path, merged)
    assert exiftool.keywords(path)["subject"] == ["holiday", "tabby", "crème brûlée", "日本"]
    assert exiftool.warnings(path) == []


def test_a_utf16_sidecar_stays_utf16(tmp_path, exiftool):
    merged = merge_keywords(DIGIKAM.encode("utf-16"), ["tabby", "lynx"], model="m")
    assert merged.startswith(b"\xff\xfe") and merged.decode("utf-16").endswith(TRAILER)
    assert read_keywords(merged).subject == ("holiday", "tabby", "lynx")
    path = written(tmp_path, merged)
    assert exiftool.keywords(path)["tags_list"] == ["Places/Paris", "ImageNet/tabby",
                                                    "ImageNet/lynx"]
    original = written(tmp_path, DIGIKAM.encode("utf-16"), "old.xmp")
    assert exiftool.warnings(path) == exiftool.warnings(original), "no new complaint"


def test_comments_and_prefixes_inside_the_root_are_kept(tmp_path, exiftool):
    commented = DIGIKAM.replace("   <dc:title>", "   <!-- checked by hand -->\n   <dc:title>")
    merged = merge_keywords(commented.encode(), ["lynx"], model="m").decode()
    assert "<!-- checked by hand -->\n   <dc:title>" in merged
    other = DIGIKAM.replace("http://example.com/acme/1.0/", "http://example.org/other-acme/")
    merged = merge_keywords(other.encode(), ["lynx"], model="m").decode()
    assert 'xmlns:acme="http://example.org/other-acme/"' in merged and 'acme:flag="on"' in merged
    path = written(tmp_path, merged)
    assert exiftool.warnings(path) == []


def test_threads_merging_sidecars_that_bind_one_prefix_differently_keep_each_binding():
    """Namespaces belong to each document: nothing registered process-wide for threads to
    race on."""
    uris = [f"http://example.org/acme/{n}/" for n in range(8)]
    results: dict[str, str] = {}

    def merge(uri: str) -> None:
        data = DIGIKAM.replace("http://example.com/acme/1.0/", uri).encode()
        for _ in range(20):
            data = merge_keywords(data, ["lynx"] if b">lynx<" not in data else ["tabby"],
                                  model="m")
        results[uri] = data.decode()

    threads = [threading.Thread(target=merge, args=(uri,)) for uri in uris]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for uri in uris:
        assert f'xmlns:acme="{uri}"' in results[uri] and "ns0:" not in results[uri]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-8"])
def test_a_dtd_is_refused_by_the_parser_in_any_encoding(codec):
    bomb = ('<?xml version="1.0" encoding="{}"?>\n'
            '<!DOCTYPE x:xmpmeta [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:subject="&c;"/></rdf:RDF>'
            '</x:xmpmeta>').format("UTF-16" if codec.startswith("utf-16") else "UTF-8")
    with pytest.raises(XmpError, match="has a DOCTYPE, which XMP does not use"):
        merge_keywords(bomb.encode(codec), ["tabby"], model="m")

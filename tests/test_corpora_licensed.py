"""CREMA-D and IEMOCAP readers on fixtures built in the publishers' layouts, and the
CREMA-D download (listing, LFS pointers, checksummed media) against a local server."""
import hashlib
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import shared, write_wav
from emoforge.corpora import REGISTRY, crema_d
from emoforge.download import DownloadError


def test_crema_d_reader(tmp_path):
    root = tmp_path / "crema"
    for name in ("1001_DFA_ANG_XX", "1002_IEO_HAP_HI", "1091_WSI_SAD_LO", "1001_DFA_XYZ_XX", "0999_DFA_ANG_XX"):
        write_wav(root / "AudioWAV" / f"{name}.wav")
    (root / "VideoDemographics.csv").write_text('"ActorID","Age","Sex","Race","Ethnicity"\n'
                                                '1001,51,"Male","Caucasian","Not Hispanic"\n'
                                                '1002,21,"Female","Caucasian","Not Hispanic"\n')
    items = {i.item_id.split("/")[1]: i for i in REGISTRY["crema_d"].index(root, {})}
    a = items["1001_DFA_ANG_XX"]
    assert (a.status, a.emotion, a.gender, a.speaker, a.intensity, a.sentence) == \
        ("ok", "angry", "male", "1001", "unspecified", "DFA")
    assert items["1002_IEO_HAP_HI"].gender == "female" and items["1091_WSI_SAD_LO"].gender is None
    assert "unknown emotion code 'XYZ'" in items["1001_DFA_XYZ_XX"].problem
    assert "outside 1001-1091" in items["0999_DFA_ANG_XX"].problem


def test_crema_d_checksum_table_from_shared_data_parses():
    root = shared("crema-d-checksums")
    rows = crema_d.checksum_table({"checksums": str(root / "AudioWAV.csv")}, root / "unused.csv")
    assert len(rows) == 7442 and all(len(sha) == 64 and size > 44 for _, sha, size in rows)
    actors = {name[:4] for name, _, _ in rows}
    assert len(actors) == 91
    assert all(crema_d.parse_name(name[:-4]) for name, _, _ in rows)


class CremaHandler(SimpleHTTPRequestHandler):
    files: dict = {}

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = CremaHandler.files.get(self.path.split("?")[0])
        if body is None:
            self.send_response(404); self.end_headers(); return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_crema_d_download_checks_every_file_against_its_lfs_pointer(tmp_path):
    wavs = {n: write_wav(tmp_path / "src" / n).read_bytes() for n in ("1001_DFA_ANG_XX.wav", "1002_IEO_HAP_HI.wav")}
    repo, ref = crema_d.REPO, "abc123"
    files = {f"/api/{repo}/git/trees/{ref}": json.dumps(
        {"tree": [{"path": f"AudioWAV/{n}"} for n in wavs] + [{"path": "README.md"}]}).encode(),
        f"/raw/{repo}/{ref}/VideoDemographics.csv": b'"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","x","y"\n'}
    for n, data in wavs.items():
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n"
        files[f"/raw/{repo}/{ref}/AudioWAV/{n}"] = pointer.encode()
        files[f"/media/{repo}/{ref}/AudioWAV/{n}"] = data
    files[f"/media/{repo}/{ref}/AudioWAV/1002_IEO_HAP_HI.wav"] = b"RIFF-corrupted-in-transit"
    CremaHandler.files = files
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CremaHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    cfg = {"commit": ref, "api_base": f"{base}/api", "raw_base": f"{base}/raw", "media_base": f"{base}/media"}
    try:
        with pytest.raises(DownloadError, match="1002_IEO_HAP_HI.wav failed its checksum"):
            crema_d.download(tmp_path / "crema", cfg)
        assert (tmp_path / "crema" / "AudioWAV" / "1001_DFA_ANG_XX.wav").read_bytes() == wavs["1001_DFA_ANG_XX.wav"]
        files[f"/media/{repo}/{ref}/AudioWAV/1002_IEO_HAP_HI.wav"] = wavs["1002_IEO_HAP_HI.wav"]
        (tmp_path / "crema" / "AudioWAV" / "1002_IEO_HAP_HI.wav.bad").unlink()
        crema_d.download(tmp_path / "crema", cfg)  # second run: pointers come from the cached table
    finally:
        httpd.shutdown()
    items = REGISTRY["crema_d"].index(tmp_path / "crema", {})
    assert [i.status for i in items] == ["ok", "ok"] and items[0].gender == "male"
    assert (tmp_path / "crema" / ".downloads" / "AudioWAV.csv").read_text().count("\n") == 3


def make_iemocap(root):
    emo = root / "Session1" / "dialog" / "EmoEvaluation"
    emo.mkdir(parents=True)
    (emo / "Ses01F_impro01.txt").write_text(
        "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
        "C-E2:\tNeutral;\t()\nA-E1:\tval 3; act 2; dom  2;\t()\n\n"
        "[10.0100 - 11.3925]\tSes01F_impro01_M001\texc\t[4.0000, 3.5000, 3.0000]\n"
        "[12.0000 - 13.0000]\tSes01F_impro01_F002\tfru\t[2.0000, 3.5000, 3.0000]\n"
        "[14.0000 - 15.0000]\tSes01F_impro01_F003\txxx\t[2.0000, 3.0000, 3.0000]\n")
    wav = root / "Session1" / "sentences" / "wav" / "Ses01F_impro01"
    for utt in ("Ses01F_impro01_F000", "Ses01F_impro01_M001", "Ses01F_impro01_F002", "Ses01F_impro01_F003",
                "Ses01F_impro01_F009"):
        write_wav(wav / f"{utt}.wav")


def test_iemocap_reader_four_class_set(tmp_path):
    make_iemocap(tmp_path)
    items = {i.item_id.split("/")[1]: i for i in REGISTRY["iemocap"].index(tmp_path, {})}
    assert set(items) == {"Ses01F_impro01_F000", "Ses01F_impro01_M001", "Ses01F_impro01_F009"}
    m = items["Ses01F_impro01_M001"]
    assert (m.emotion, m.raw_label, m.speaker, m.gender, m.split_group) == ("happy", "exc", "Ses01M", "male", "Ses01")
    assert m.extra == {"valence": 4.0, "arousal": 3.5, "dominance": 3.0}
    assert items["Ses01F_impro01_F000"].speaker == "Ses01F"
    assert items["Ses01F_impro01_F009"].problem == "no label line in EmoEvaluation"


def test_iemocap_full_set_keeps_frustration(tmp_path):
    make_iemocap(tmp_path)
    items = {i.item_id.split("/")[1]: i for i in REGISTRY["iemocap"].index(tmp_path, {"classes": "full"})}
    assert items["Ses01F_impro01_F002"].emotion == "frustration" and items["Ses01F_impro01_M001"].emotion == "excited"
    assert "Ses01F_impro01_F003" not in items


def test_iemocap_missing_tells_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="sail.usc.edu"):
        REGISTRY["iemocap"].index(tmp_path, {})
    assert REGISTRY["iemocap"].download is None and "licensed" in REGISTRY["iemocap"].how_to_get


def test_iemocap_download_rule_stops_with_instructions(tmp_path):
    from emoforge.cli import main
    with pytest.raises(SystemExit, match="sail.usc.edu"):
        main(["download", "--corpus", "iemocap", "--cfg", "{}", "--out", str(tmp_path / "raw"),
              "--done", str(tmp_path / "done")])
    assert not (tmp_path / "done").exists()

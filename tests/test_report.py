"""Report pieces that need no training: the per-job cost table."""
from emoforge.report.build import job_costs

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_job_costs_read_the_latest_run_of_every_snakemake_benchmark(tmp_path):
    assert job_costs(tmp_path) == []
    (tmp_path / "features_demo_audio.tsv").write_text(
        HEADER + "10.5\t0:00:10\t900.2\t1\t1\t1\t1\t1\t90\t19.0\n" + "4.25\t0:00:04\t512.6\t1\t1\t1\t1\t1\t90\t7.5\n")
    (tmp_path / "translate_demo_world_mlp.tsv").write_text(HEADER + "61.0\t0:01:01\t2048.0\t1\t1\t1\t1\t1\t150\t120.0\n")
    lines = job_costs(tmp_path)
    assert lines[0] == "## Time and memory per job"
    assert "| features_demo_audio | 4.2 | 7.5 | 513 |" in lines  # the later run of a job re-run
    assert "| translate_demo_world_mlp | 61.0 | 120.0 | 2048 |" in lines


def test_the_faces_benchmark_gives_the_classifier_its_validation_and_test_rows(tmp_path):
    import json

    from emoforge.labels import FACE_EMOTIONS
    from emoforge.report.faces import benchmark

    classifier = tmp_path / "data/models/face_classifier/fer2013/metrics.json"
    classifier.parent.mkdir(parents=True)
    classifier.write_text(json.dumps({"val/wa": 0.52, "test/wa": 0.49, "test/ua": 0.41, "best_epoch": 13,
                                      "epochs_run": 14, "wall_s": 600.0, "device": "cpu"}))
    generator = tmp_path / "data/models/faces/fer2013/cgan/metrics.json"
    generator.parent.mkdir(parents=True)
    generator.write_text(json.dumps({
        "gen/conditional_acc": 0.3, "gen/fid": 5.0, "gen/kid": 0.02, "gen/diversity": 0.8,
        "judge_real_test/ua": 0.41, "reference/fid_train_vs_test": 0.6,
        "reference/kid_train_vs_test": 0.002, "epochs_run": 1, "wall_s": 300.0, "device": "cpu",
        **{f"gen/acc_{e}": 0.3 for e in FACE_EMOTIONS}}))
    out = tmp_path / "reports/benchmarks/faces_fer2013.json"
    result = benchmark(classifier, [str(generator)], out)
    by_metric = {(r["variant"], r["metric"]): r for r in result["rows"]}
    assert by_metric[("classifier", "val_acc")]["mean"] == 0.52
    assert by_metric[("classifier", "test_acc")]["mean"] == 0.49
    assert by_metric[("cgan", "conditional_acc")]["mean"] == 0.3
    runs = [r for r in result["rows"] if not r["variant"].startswith("real_")]  # not references
    assert all({"wall_s", "device", "protocol", "folds"} <= set(r) for r in runs)
    assert result["wall_s"] == 900.0
    assert "| 0.520 | 0.490 | 0.410 | 13 / 14 | 600.0 |" in out.with_suffix(".md").read_text()

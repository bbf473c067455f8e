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

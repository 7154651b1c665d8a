"""The BIDS iEEG reader (through mne-bids) reads what mne-bids wrote: channels, types, positions, events."""

import warnings

import mne
import mne_bids
import numpy as np
import pytest

from neuromodels.core.errors import DataError
from neuromodels.seeg.data import read_bids_ieeg


def _write_brainvision(stem, data_uv, sfreq, names):
    """A minimal BrainVision recording (header, markers, float32 multiplexed samples)."""
    data_uv.T.astype("<f4").tofile(stem.with_suffix(".eeg"))
    channels = "\n".join(f"Ch{i + 1}={n},,1,µV" for i, n in enumerate(names))
    stem.with_suffix(".vhdr").write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem.name}.eeg\nMarkerFile={stem.name}.vmrk\nDataFormat=BINARY\nDataOrientation=MULTIPLEXED\n"
        f"NumberOfChannels={len(names)}\nSamplingInterval={1e6 / sfreq}\n\n[Binary Infos]\n"
        f"BinaryFormat=IEEE_FLOAT_32\n\n[Channel Infos]\n{channels}\n",
        encoding="utf-8",
    )
    stem.with_suffix(".vmrk").write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem.name}.eeg\n\n[Marker Infos]\nMk1=New Segment,,1,1,0\n",
        encoding="utf-8",
    )


def test_bids_ieeg_round_trip(tmp_path):
    names = ["LA1", "LA2", "LB1"]
    data = np.random.default_rng(0).standard_normal((3, 1000)) * 10
    _write_brainvision(tmp_path / "rec", data, 500.0, names)
    raw = mne.io.read_raw_brainvision(tmp_path / "rec.vhdr", verbose="error")
    raw.set_channel_types({n: "seeg" for n in names})
    pos = {"LA1": [-0.04, 0, 0], "LA2": [-0.045, 0, 0], "LB1": [-0.05, -0.02, 0.01]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw.set_montage(mne.channels.make_dig_montage(ch_pos=pos, coord_frame="mni_tal"))
    path = mne_bids.BIDSPath(subject="01", task="movie", root=tmp_path / "bids", datatype="ieeg")
    mne_bids.write_raw_bids(
        raw,
        path,
        events=np.array([[100, 0, 1], [400, 0, 2]]),
        event_id={"word": 1, "cut": 2},
        overwrite=True,
        verbose="error",
    )
    back, events = read_bids_ieeg(tmp_path / "bids", "01", "movie")
    assert back.ch_names == names and set(back.get_channel_types()) == {"seeg"}
    np.testing.assert_allclose(back.get_data() * 1e6, data, rtol=1e-5)
    got = back.get_montage().get_positions()
    assert got["coord_frame"] == "mni_tal"
    np.testing.assert_allclose(got["ch_pos"]["LB1"], pos["LB1"], atol=1e-6)
    assert events["trial_type"].tolist() == ["word", "cut"]
    np.testing.assert_allclose(events["onset"], [0.2, 0.8])
    with pytest.raises(DataError, match="no iEEG recording"):
        read_bids_ieeg(tmp_path / "bids", "02", "movie")

"""The TensorBoard event-file reader against a real writer (tensorboardX) and its protobufs."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitruns.capture.tfevents import Scalar, crc32c, float32_value, masked_crc32c, read_scalars
from gitruns.recorder.metric_files import read_metric_file

tbx = pytest.importorskip("tensorboardX")
from tensorboardX.proto import (  # noqa: E402
    event_pb2,
    summary_pb2,
    tensor_pb2,
    tensor_shape_pb2,
)
from tensorboardX.record_writer import RecordWriter  # noqa: E402


def test_crc32c_known_answer() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0


def _event_file(folder: Path) -> Path:
    (found,) = folder.glob("events.out.tfevents.*")
    return found


def test_scalars_written_by_tensorboardx_read_back(tmp_path: Path) -> None:
    writer = tbx.SummaryWriter(str(tmp_path))
    for step in range(5):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
        writer.add_scalar("lr", 0.1, step)
    writer.add_text("notes", "not a scalar", 0)
    writer.add_histogram("weights", [1.0, 2.0, 3.0], 0)
    writer.close()
    points = list(read_scalars(_event_file(tmp_path)))
    loss = [(p.step, p.value) for p in points if p.tag == "train/loss"]
    assert loss == [(0, 1.0), (1, 0.5), (2, 0.33333334), (3, 0.25), (4, 0.2)]
    assert {p.tag for p in points} == {"train/loss", "lr"}
    assert all(abs(p.wall_time - time.time()) < 60 for p in points)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    series=st.lists(
        st.tuples(
            st.integers(0, 2**40),
            st.floats(width=32, allow_nan=False, allow_infinity=True),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_float32_series_round_trips(
    tmp_path_factory: pytest.TempPathFactory, series: list[tuple[int, float]]
) -> None:
    folder = tmp_path_factory.mktemp("tb")
    writer = tbx.SummaryWriter(str(folder))
    for step, value in series:
        writer.add_scalar("x", value, step)
    writer.close()
    read = [(p.step, struct.pack("<f", p.value)) for p in read_scalars(_event_file(folder))]
    assert read == [(step, struct.pack("<f", value)) for step, value in series]  # same float32


def _tf2_scalar(step: int, **tensor: object) -> bytes:
    """An event as TensorFlow 2's tf.summary.scalar writes it: a tensor, scalars plugin."""
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )
    proto = tensor_pb2.TensorProto(tensor_shape=tensor_shape_pb2.TensorShapeProto(), **tensor)
    value = summary_pb2.Summary.Value(tag="tf2", tensor=proto, metadata=metadata)
    event = event_pb2.Event(wall_time=1.5, step=step, summary=summary_pb2.Summary(value=[value]))
    return bytes(event.SerializeToString())


def test_tensor_scalars_of_tensorflow_2_are_read(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1.host.v2"
    writer = RecordWriter(str(path))
    writer.write(_tf2_scalar(0, dtype=1, float_val=[0.1]))
    writer.write(_tf2_scalar(1, dtype=2, double_val=[0.25]))
    writer.write(_tf2_scalar(2, dtype=9, int64_val=[-7]))
    writer.write(_tf2_scalar(3, dtype=1, tensor_content=struct.pack("<f", 1.5)))
    writer.write(_tf2_scalar(4, dtype=1, float_val=[1.0, 2.0]))  # not a scalar: skipped
    writer.close()
    assert list(read_scalars(path)) == [
        Scalar("tf2", 0, 1.5, 0.1),
        Scalar("tf2", 1, 1.5, 0.25),
        Scalar("tf2", 2, 1.5, -7.0),
        Scalar("tf2", 3, 1.5, 1.5),
    ]


def _record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return (
        length
        + struct.pack("<I", masked_crc32c(length))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def _simple(step: int, value: float) -> bytes:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="x", simple_value=value)])
    return bytes(event_pb2.Event(wall_time=2.0, step=step, summary=summary).SerializeToString())


def test_damaged_files_give_what_can_be_trusted(tmp_path: Path) -> None:
    good = [_record(_simple(step, float(step))) for step in range(4)]
    bad_data = bytearray(good[1])
    bad_data[-6] ^= 0xFF  # inside the payload: its checksum fails, the record is skipped
    path = tmp_path / "events.out.tfevents.damaged"
    path.write_bytes(good[0] + bytes(bad_data) + good[2] + good[3][:-3])  # last one truncated
    assert [p.step for p in read_scalars(path)] == [0, 2]
    broken_length = bytearray(good[0])
    broken_length[0] ^= 0x01  # the length's checksum fails: nothing after it can be framed
    path.write_bytes(bytes(broken_length) + good[1])
    assert list(read_scalars(path)) == []
    path.write_bytes(b"")
    assert list(read_scalars(path)) == []
    path.write_bytes(_record(b"\xff\xff\xff"))  # not a protobuf
    assert list(read_scalars(path)) == []


def test_float32_values_are_stored_as_their_shortest_decimal() -> None:
    assert float32_value(0.10000000149011612) == 0.1
    assert float32_value(float("inf")) == float("inf")
    value = struct.unpack("<f", struct.pack("<f", 3.14159265))[0]
    assert struct.pack("<f", float32_value(value)) == struct.pack("<f", value)


def test_a_csv_loggers_sparse_rows(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(
        "epoch,step,train_loss,val_loss\n0,1,0.9,\n0,3,0.7,\n0,3,,0.8\n1,7,0.5,\n1,7,,0.6\n"
    )
    by_tag = {s.tag: [(p[0], p[2]) for p in s.points] for s in read_metric_file(path)}
    assert by_tag == {
        "epoch": [(1, 0.0), (3, 0.0), (3, 0.0), (7, 1.0), (7, 1.0)],
        "train_loss": [(1, 0.9), (3, 0.7), (7, 0.5)],
        "val_loss": [(3, 0.8), (7, 0.6)],
    }

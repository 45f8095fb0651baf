import pytest

from nimbus.services.kinesis import sequence
from nimbus.services.kinesis.hashing import MAX_HASH_KEY, even_ranges, hash_key, parse_hash_key
from nimbus.services.kinesis.iterators import BadIterator, IteratorCodec, IteratorPosition


def test_sequence_numbers_are_56_digits_and_round_trip() -> None:
    text = sequence.encode(1_700_000_000, 3, 12345)
    assert len(text) == 56 and text.isdigit() and text.startswith("49")
    pos = sequence.decode(text)
    assert (pos.epoch, pos.shard_index, pos.log_seq) == (1_700_000_000, 3, 12345)
    assert sequence.Encoder(1_700_000_000, 3)(12345) == text
    before_first = sequence.encode(1_700_000_000, 3, -1)  # a shard's StartingSequenceNumber
    assert sequence.decode(before_first).log_seq == -1 and int(before_first) < int(sequence.encode(1_700_000_000, 3, 0))


def test_sequence_numbers_increase_with_log_seq_and_child_shards() -> None:
    enc = sequence.Encoder(1_700_000_000, 0)
    nums = [int(enc(i)) for i in (0, 1, 2, 9, 10, 10**12)]
    assert nums == sorted(nums) and len(set(nums)) == len(nums)
    assert int(sequence.encode(1_700_000_000, 1, 0)) > int(enc(10**15))


def test_forged_or_foreign_sequence_numbers_are_refused() -> None:
    text = sequence.encode(1_700_000_000, 0, 5)
    tampered = text[:30] + ("1" if text[30] != "1" else "2") + text[31:]
    for bad in (tampered, "123", "x" * 56, "49590338271490256608559692538361571095921575989136588898"):
        with pytest.raises(sequence.BadSequenceNumber):
            sequence.decode(bad)


def test_md5_hash_key_matches_aws() -> None:
    # AWS: int(md5(key)) as 128-bit big-endian
    import hashlib

    assert hash_key("a") == int(hashlib.md5(b"a").hexdigest(), 16)
    assert 0 <= hash_key("partition-\u00e9") <= MAX_HASH_KEY


def test_even_ranges_tile_the_space() -> None:
    for n in (1, 2, 3, 4, 7):
        ranges = even_ranges(n)
        assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH_KEY
        for (a, b), (c, d) in zip(ranges, ranges[1:]):
            assert b + 1 == c
    assert even_ranges(2)[1][0] == 170141183460469231731687303715884105728


def test_parse_hash_key() -> None:
    assert parse_hash_key("0") == 0
    assert parse_hash_key(str(MAX_HASH_KEY)) == MAX_HASH_KEY
    for bad in ("-1", "01", str(MAX_HASH_KEY + 1), "1e5", ""):
        with pytest.raises(ValueError):
            parse_hash_key(bad)


def test_iterators_round_trip_and_detect_tampering() -> None:
    codec = IteratorCodec(b"k" * 32)
    pos = IteratorPosition("000000000000", "us-east-1", "s", b"\x01" * 8, 2, 99, 1234)
    token = codec.encode(pos)
    assert len(token) <= 512
    assert codec.decode(token) == pos
    with pytest.raises(BadIterator):
        IteratorCodec(b"j" * 32).decode(token)
    with pytest.raises(BadIterator):
        codec.decode("not-a-token")
    raw = bytearray(__import__("base64").urlsafe_b64decode(token))
    raw[10] ^= 1
    with pytest.raises(BadIterator):
        codec.decode(__import__("base64").urlsafe_b64encode(bytes(raw)).decode())


@pytest.mark.parametrize("epoch,index", [(0, 0), (1_700_000_000, 3), (9_999_999_999, 999_999)])
@pytest.mark.parametrize("first", [-1, 0, 7, 10**12])
def test_range_matches_one_by_one(epoch: int, index: int, first: int) -> None:
    enc = sequence.Encoder(epoch, index)
    assert enc.range(first, 25) == [enc(first + i) for i in range(25)]
    assert enc.range(first, 0) == []
    for text in enc.range(first, 3):
        assert sequence.decode(text).shard_index == index

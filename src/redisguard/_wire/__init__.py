"""The wire layer (private): what redisguard writes and reads below redis-py, in one place.

* :mod:`.resp`: commands written as RESP bytes (``bulk``, ``command``), for the hot paths;
* :mod:`.pipe`: :class:`~.pipe.RawPipe`, raw pipelining on a connection borrowed from a redis-py pool,
  replies parsed by hiredis (the keys scanner);
* :mod:`.streams`: pre-built commands on a redis-py asyncio connection (the streams Producer/Consumer);
* :mod:`.errors`: server replies as redis-py exceptions, and which refusals mean "this command is
  denied or renamed" (NOPERM ``to run``, unknown command) rather than "this key";
* :mod:`.info`: the INFO text parser, section by section;
* :mod:`.decode`: the one decode helper for server-supplied names and values.

It imports nothing from the rest of redisguard but :mod:`redisguard.keynames`: every layer may use it.
"""

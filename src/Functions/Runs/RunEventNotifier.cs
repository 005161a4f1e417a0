using System.Collections.Concurrent;

namespace AgentRuns.Functions.Runs;

/// <summary>
/// Hands the events this process has just committed to the streams of their run in this process, so that a stream on the
/// same host as the run's writer reads storage only when it opens and on its slow timer. Streams whose events are written
/// by another instance still see them by polling: a feed only knows what was appended here, after it was subscribed to.
/// </summary>
public sealed class RunEventNotifier
{
    private readonly ConcurrentDictionary<string, RunEventFeed> _feeds = new(StringComparer.Ordinal);

    /// <summary>
    /// The feed of the run's appends in this process from now on, until disposed. Each open stream holds one; a run
    /// nobody follows here costs nothing.
    /// </summary>
    public RunEventFeed Subscribe(string runId)
    {
        while (true)
        {
            var feed = _feeds.GetOrAdd(runId, id => new RunEventFeed(this, id));
            if (feed.TryJoin())
            {
                return feed;
            }

            // The last subscriber left it between the lookup and the join: it is gone from the map, take a fresh one.
            _feeds.TryRemove(new KeyValuePair<string, RunEventFeed>(runId, feed));
        }
    }

    /// <summary>Called by the run store after a write committed these events (contiguous seqs, ascending).</summary>
    public void Appended(string runId, IReadOnlyList<RunEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count > 0 && _feeds.TryGetValue(runId, out var feed))
        {
            feed.Add(events);
        }
    }

    /// <summary>
    /// Called by the run store when a read of the record shows the log reaching <paramref name="lastSeq"/>: events it did not
    /// hand over (a write whose response was lost and that its retry found done; a write of another instance that made this
    /// one re-read) are then read by the streams here at once instead of at their next poll.
    /// </summary>
    public void Seen(string runId, long lastSeq)
    {
        if (_feeds.TryGetValue(runId, out var feed))
        {
            feed.See(lastSeq);
        }
    }

    /// <summary>How many runs have a feed open here (for tests: a feed must not outlive its last stream).</summary>
    public int OpenFeeds => _feeds.Count;

    internal void Remove(RunEventFeed feed) => _feeds.TryRemove(new KeyValuePair<string, RunEventFeed>(feed.RunId, feed));
}

/// <summary>What <see cref="RunEventFeed.After"/> knows about the events after a seq.</summary>
public enum FeedState
{
    /// <summary>Nothing after the seq is known here (another instance may have written some: only storage knows).</summary>
    Nothing,

    /// <summary>The next events, from seq + 1 on, without a hole.</summary>
    Events,

    /// <summary>
    /// Events after the seq exist, but the feed does not hold the next one (written elsewhere, handed over without being
    /// held, or dropped from the buffer): read storage.
    /// </summary>
    Gap,
}

/// <summary>One run's appends in this process, for the streams that follow it here. Thread-safe.</summary>
public sealed class RunEventFeed : IDisposable
{
    /// <summary>A stream further behind than this many events reads storage instead.</summary>
    public const int Capacity = 256;

    /// <summary>Nor does the feed hold more than this many characters of event values (half a MiB), however large they are.</summary>
    public const int CapacityChars = 256 * 1024;

    private readonly RunEventNotifier _owner;
    private readonly SortedList<long, RunEvent> _recent = [];
    private readonly Lock _gate = new();
    private TaskCompletionSource _next = NewSignal();
    private long _heldChars;
    private long _tail;
    private int _subscribers;
    private bool _closed;

    internal RunEventFeed(RunEventNotifier owner, string runId)
    {
        _owner = owner;
        RunId = runId;
    }

    public string RunId { get; }

    /// <summary>Completes at the next append. Take it before <see cref="After"/>, so an append in between is not missed.</summary>
    public Task NextAppend()
    {
        lock (_gate)
        {
            return _next.Task;
        }
    }

    /// <summary>The events appended here right after <paramref name="seq"/>, if the feed holds them without a hole.</summary>
    public FeedState After(long seq, out IReadOnlyList<RunEvent> events)
    {
        lock (_gate)
        {
            var keys = _recent.Keys;
            var first = LowerBound(keys, seq + 1);
            if (first == keys.Count)
            {
                events = [];
                return _tail > seq ? FeedState.Gap : FeedState.Nothing;
            }

            if (keys[first] != seq + 1)
            {
                events = [];
                return FeedState.Gap;
            }

            var taken = new List<RunEvent>();
            for (var i = first; i < keys.Count && keys[i] == seq + 1 + taken.Count; i++)
            {
                taken.Add(_recent.Values[i]);
            }

            events = taken;
            return FeedState.Events;
        }
    }

    /// <summary>Whether the event with this seq was appended here (after the feed was opened).</summary>
    public bool Holds(long seq)
    {
        lock (_gate)
        {
            return _recent.ContainsKey(seq);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_closed || --_subscribers > 0)
            {
                return;
            }

            _closed = true;
        }

        _owner.Remove(this);
    }

    internal bool TryJoin()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }

            _subscribers++;
            return true;
        }
    }

    internal void Add(IReadOnlyList<RunEvent> events)
    {
        TaskCompletionSource woken;
        lock (_gate)
        {
            foreach (var e in events)
            {
                if (_recent.TryAdd(e.Seq, e))
                {
                    _heldChars += e.ValueJson.Length;
                }

                _tail = Math.Max(_tail, e.Seq);
            }

            while (_recent.Count > Capacity || (_heldChars > CapacityChars && _recent.Count > 0))
            {
                _heldChars -= _recent.Values[0].ValueJson.Length;
                _recent.RemoveAt(0);
            }

            woken = _next;
            _next = NewSignal();
        }

        woken.TrySetResult();
    }

    internal void See(long lastSeq)
    {
        TaskCompletionSource woken;
        lock (_gate)
        {
            if (lastSeq <= _tail)
            {
                return;
            }

            _tail = lastSeq;
            woken = _next;
            _next = NewSignal();
        }

        woken.TrySetResult();
    }

    private static int LowerBound(IList<long> keys, long value)
    {
        int lo = 0, hi = keys.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (keys[mid] < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

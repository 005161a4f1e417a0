using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions.Streaming;

/// <summary>How live event streams behave. Bound from the <c>Streams</c> section.</summary>
public sealed class StreamOptions
{
    public const string SectionName = "Streams";

    /// <summary>
    /// A stream ends by itself after this long; clients resume with <c>Last-Event-ID</c>. Azure's front end cuts
    /// responses at 230 s, so the default stays well under it.
    /// </summary>
    [Range(1, 3600)]
    public int MaxDurationSeconds { get; set; } = 180;

    /// <summary>A comment line goes out at least this often while nothing happens, so proxies keep the connection.</summary>
    [Range(1, 300)]
    public int HeartbeatSeconds { get; set; } = 15;

    /// <summary>
    /// The table poll interval right after an event that another instance wrote (or that was written before the stream
    /// opened): its next events are picked up this fast. Events this process writes are handed to its streams at once,
    /// without a read, and then the poll stays at <see cref="MaxPollMilliseconds"/>.
    /// </summary>
    [Range(10, 60_000)]
    public int MinPollMilliseconds { get; set; } = 100;

    /// <summary>
    /// The interval the polling backs off to while nothing happens: what an idle stream costs, and the longest an event
    /// written by another instance waits while this process is writing the same run.
    /// </summary>
    [Range(10, 60_000)]
    public int MaxPollMilliseconds { get; set; } = 2000;
}

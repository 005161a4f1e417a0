using System.Net.ServerSentEvents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Streaming;

/// <summary>How a stream ended.</summary>
public enum StreamEnd
{
    /// <summary>After the run's terminal event (or at once, for a client that had seen it): a clean end.</summary>
    Terminal,

    /// <summary>The time bound passed: the response is aborted, so that every client reconnects with <c>Last-Event-ID</c>.</summary>
    Bound,

    /// <summary>The client went away.</summary>
    ClientLeft,
}

/// <summary>
/// Server-Sent Events of one run's log: every event after a seq, in order, as <c>event: run_event</c> / <c>data</c> / <c>id: seq</c>
/// frames; comment lines while idle. The response ends cleanly only after the terminal event. At
/// <see cref="StreamOptions.MaxDurationSeconds"/> it is aborted instead: SSE clients (EventSource, fetch-event-source)
/// reconnect after an error but take a clean end as "done", and a human may take hours. Polls the table, backing off while
/// idle, wakes at once on appends made in this process, and rides out a storage outage with heartbeats.
/// </summary>
public sealed partial class RunEventStream(
    RunStore runs, RunEventNotifier notifier, IOptions<StreamOptions> options, TimeProvider time, ILogger<RunEventStream> logger)
{
    public const string EventName = "run_event";
    private const int BatchSize = 100;
    private static readonly byte[] Heartbeat = ": keep-alive\n\n"u8.ToArray();

    /// <param name="ended">The client has already seen the run's terminal event: answer with a stream that ends at once.</param>
    public IResult Result(string tenantId, string runId, long afterSeq, bool ended = false) => new StreamResult(this, tenantId, runId, afterSeq, ended);

    /// <summary>Writes the stream to <paramref name="response"/> until the run ends, the bound passes or the client leaves.</summary>
    public async Task<StreamEnd> WriteAsync(
        HttpResponse response, string tenantId, string runId, long afterSeq, CancellationToken cancellationToken, bool ended = false)
    {
        ArgumentNullException.ThrowIfNull(response);
        var o = options.Value;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache, no-transform";
        response.Headers["X-Accel-Buffering"] = "no";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            await response.StartAsync(cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
            if (ended)
            {
                return StreamEnd.Terminal;
            }

            var started = time.GetUtcNow();
            var end = started.AddSeconds(o.MaxDurationSeconds);
            var lastWrite = started;
            var minPoll = TimeSpan.FromMilliseconds(o.MinPollMilliseconds);
            var maxPoll = TimeSpan.FromMilliseconds(o.MaxPollMilliseconds);
            var poll = minPoll;
            var heartbeat = TimeSpan.FromSeconds(o.HeartbeatSeconds);
            var seq = afterSeq;
            var readStorage = true; // at the start, then on the timer, or when the feed has a hole
            var opening = true;

            // Whether an event of this run reached storage without being handed over here: another instance writes it (on
            // Flex Consumption the durable instances write and the http instances stream). Until one is seen, a hand-off
            // says the writer is this process, and the poll only has to catch writers elsewhere, at the idle pace.
            var writerElsewhere = false;
            using var feed = notifier.Subscribe(runId);
            while (true)
            {
                var appended = feed.NextAppend();
                var state = feed.After(seq, out var handed);
                IReadOnlyList<RunEvent>? batch = null;
                var fromStorage = readStorage || state == FeedState.Gap;
                if (fromStorage)
                {
                    batch = await TryReadAsync(tenantId, runId, seq, cancellationToken);
                    if (batch is { Count: > 0 } && batch.Any(e => !feed.Holds(e.Seq)))
                    {
                        // Written elsewhere (or, for the first read, before this stream opened): the next may follow soon.
                        writerElsewhere |= !opening;
                        poll = minPoll;
                    }
                    else if (batch is null && state == FeedState.Events)
                    {
                        batch = handed; // storage is out, but what this process committed can still go out
                        fromStorage = false;
                    }

                    opening = false;
                }
                else if (state == FeedState.Events)
                {
                    // Committed by this process a moment ago: no read.
                    batch = handed;
                    poll = writerElsewhere ? minPoll : maxPoll;
                }

                readStorage = false;
                if (batch is { Count: > 0 })
                {
                    var items = batch.Select(RunMapper.ToResource).ToList();
                    await SseFormatter.WriteAsync(ToItems(items), response.Body, cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    seq = items[^1].Seq;
                    lastWrite = time.GetUtcNow();
                    if (items.Any(e => RunEventTypes.IsTerminal(e.Type)))
                    {
                        return StreamEnd.Terminal;
                    }

                    readStorage = fromStorage && batch.Count == BatchSize;
                    continue; // more may be waiting, in storage or in the feed
                }

                var now = time.GetUtcNow();
                if (now >= end)
                {
                    return StreamEnd.Bound;
                }

                if (now - lastWrite >= heartbeat)
                {
                    await response.Body.WriteAsync(Heartbeat, cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    lastWrite = now;
                }

                var wait = Min(poll, end - now, heartbeat - (now - lastWrite));
                using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var woken = await Task.WhenAny(appended, Task.Delay(wait, time, timer.Token)) == appended;
                await timer.CancelAsync(); // an append won: drop the timer rather than leave it pending
                cancellationToken.ThrowIfCancellationRequested();
                if (!woken)
                {
                    readStorage = true; // the timer: what other instances wrote is only in storage
                    poll = Min(poll * 2, maxPoll, maxPoll);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return StreamEnd.ClientLeft;
        }
    }

    /// <summary>The next events, or null while storage cannot be reached (the stream keeps its client with heartbeats).</summary>
    private async Task<IReadOnlyList<RunEvent>?> TryReadAsync(string tenantId, string runId, long afterSeq, CancellationToken cancellationToken)
    {
        try
        {
            return await runs.ReadEventsAsync(tenantId, runId, afterSeq, BatchSize, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && StorageFailures.IsUnavailable(ex))
        {
            LogReadFailed(logger, ex, runId);
            return null;
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b, TimeSpan c) =>
        TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(1).Ticks, Math.Min(a.Ticks, Math.Min(b.Ticks, c.Ticks))));

    private static async IAsyncEnumerable<SseItem<string>> ToItems(IEnumerable<RunEventResource> items)
    {
        foreach (var item in items)
        {
            yield return new SseItem<string>(ApiJson.Serialize(item), EventName)
            {
                EventId = item.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
        }

        await Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stream of run {RunId} cannot read its events; it keeps the client and tries again")]
    private static partial void LogReadFailed(ILogger logger, Exception exception, string runId);

    private sealed class StreamResult(RunEventStream stream, string tenantId, string runId, long afterSeq, bool ended) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            if (await stream.WriteAsync(httpContext.Response, tenantId, runId, afterSeq, httpContext.RequestAborted, ended) == StreamEnd.Bound)
            {
                // Not a clean end: the client must come back for the rest (with Last-Event-ID).
                httpContext.Abort();
            }
        }
    }
}

using System.Net.ServerSentEvents;
using AgentRuns.Functions.Http;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Streaming;

/// <summary>
/// Server-Sent Events of one run's log: every event after a seq, in order, as <c>id: seq</c> / <c>event: run_event</c>
/// frames; comment lines while idle; the response ends after a terminal event or after
/// <see cref="StreamOptions.MaxDurationSeconds"/>, and the client resumes with <c>Last-Event-ID</c>.
/// Polls the table, backing off while idle, and wakes at once on appends made in this process.
/// </summary>
public sealed class RunEventStream(EventLog events, RunEventNotifier notifier, IOptions<StreamOptions> options, TimeProvider time)
{
    public const string EventName = "run_event";
    private const int BatchSize = 100;
    private static readonly byte[] Heartbeat = ": keep-alive\n\n"u8.ToArray();

    /// <param name="ended">The client has already seen the run's terminal event: answer with a stream that ends at once.</param>
    public IResult Result(string runId, long afterSeq, bool ended = false) => new StreamResult(this, runId, afterSeq, ended);

    /// <summary>Writes the stream to <paramref name="response"/> until the run ends, the bound passes or the client leaves.</summary>
    public async Task WriteAsync(HttpResponse response, string runId, long afterSeq, CancellationToken cancellationToken, bool ended = false)
    {
        var o = options.Value;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache, no-transform";
        response.Headers["X-Accel-Buffering"] = "no";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
        if (ended)
        {
            return;
        }

        var started = time.GetUtcNow();
        var end = started.AddSeconds(o.MaxDurationSeconds);
        var lastWrite = started;
        var poll = TimeSpan.FromMilliseconds(o.MinPollMilliseconds);
        var maxPoll = TimeSpan.FromMilliseconds(o.MaxPollMilliseconds);
        var heartbeat = TimeSpan.FromSeconds(o.HeartbeatSeconds);
        var seq = afterSeq;
        try
        {
            while (true)
            {
                var appended = notifier.NextAppend(runId);
                var batch = await events.ReadAsync(runId, seq, BatchSize, cancellationToken);
                if (batch.Count > 0)
                {
                    var items = batch.Select(e => RunMapper.ToResource(e)).ToList();
                    await SseFormatter.WriteAsync(ToItems(items), response.Body, cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    seq = items[^1].Seq;
                    lastWrite = time.GetUtcNow();
                    poll = TimeSpan.FromMilliseconds(o.MinPollMilliseconds);
                    if (items.Any(e => RunEventTypes.IsTerminal(e.Type)))
                    {
                        return;
                    }

                    if (batch.Count == BatchSize)
                    {
                        continue; // more are waiting
                    }
                }

                var now = time.GetUtcNow();
                if (now >= end)
                {
                    return;
                }

                if (now - lastWrite >= heartbeat)
                {
                    await response.Body.WriteAsync(Heartbeat, cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    lastWrite = now;
                }

                var wait = Min(poll, end - now, heartbeat - (now - lastWrite));
                await Task.WhenAny(appended, Task.Delay(wait, time, cancellationToken));
                cancellationToken.ThrowIfCancellationRequested();
                poll = Min(poll * 2, maxPoll, maxPoll);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left.
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

    private sealed class StreamResult(RunEventStream stream, string runId, long afterSeq, bool ended) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) =>
            stream.WriteAsync(httpContext.Response, runId, afterSeq, httpContext.RequestAborted, ended);
    }
}

using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>
/// A client of a run's event stream as a careful one is written: it reads events as they come, and whenever the response
/// fails, is refused (a 503 while storage is out) or ends before the terminal event, it reconnects with <c>Last-Event-ID</c>
/// after a second. Keeps every event it received, in order, duplicates included (there must be none).
/// </summary>
public sealed class ResumingStream
{
    private readonly List<JsonElement> _events = [];

    public IReadOnlyList<JsonElement> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public int Connections { get; private set; }

    public int Failures { get; private set; }

    public static Task<ResumingStream> FollowAsync(HttpClient http, string runId, TimeSpan timeout)
    {
        var stream = new ResumingStream();
        return stream.RunAsync(http, runId, timeout);
    }

    private async Task<ResumingStream> RunAsync(HttpClient http, string runId, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        long lastSeq = 0;
        while (true)
        {
            deadline.Token.ThrowIfCancellationRequested();
            Connections++;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/v1/runs/{runId}/events/stream", UriKind.Relative));
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
                if (lastSeq > 0)
                {
                    request.Headers.Add("Last-Event-ID", lastSeq.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }

                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
                if (response.IsSuccessStatusCode)
                {
                    await using var body = await response.Content.ReadAsStreamAsync(deadline.Token);
                    await foreach (var item in SseParser.Create(body).EnumerateAsync(deadline.Token))
                    {
                        var e = JsonDocument.Parse(item.Data).RootElement.Clone();
                        lock (_events)
                        {
                            _events.Add(e);
                        }

                        lastSeq = e.GetProperty("seq").GetInt64();
                        if (e.GetProperty("type").GetString() is "run.worker.succeeded" or "run.worker.failed" or "run.cancelled")
                        {
                            return this;
                        }
                    }
                }
                else
                {
                    Failures++;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !deadline.IsCancellationRequested))
            {
                Failures++; // aborted at its bound, or storage went away: come back for the rest
            }

            await Task.Delay(TimeSpan.FromSeconds(1), deadline.Token);
        }
    }
}

using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace AgentRuns.Benchmarks.Infra;

/// <summary>A run event as a client received it, stamped when its frame was complete.</summary>
public sealed record StreamEvent(long Seq, string Type, long ReceivedAt, DateTimeOffset ReceivedWall, string? RequestId)
{
    public bool IsTerminal => Type is "run.worker.succeeded" or "run.worker.failed" or "run.cancelled";
}

/// <summary>
/// A client of <c>GET /v1/runs/{id}/events/stream</c>, as the guide's client uses it: reads frames as they come, stamps
/// each event on arrival, resumes with <c>Last-Event-ID</c> if the server ends the response before the run ends.
/// </summary>
public sealed class RunStream : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly string _runId;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<StreamEvent> _events = [];
    private readonly List<string> _retries = [];
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _reader = Task.CompletedTask;
    private int _disposed;

    private RunStream(HttpClient http, string runId)
    {
        _http = http;
        _runId = runId;
    }

    /// <summary>When the first response's headers arrived (monotonic and wall clock).</summary>
    public long OpenedAt { get; private set; }

    public DateTimeOffset OpenedWall { get; private set; }

    public string RunId => _runId;

    /// <summary>Why the stream was opened again (503, an aborted response), in order: what a careful SSE client rode out.</summary>
    public IReadOnlyList<string> Retries
    {
        get
        {
            lock (_lock)
            {
                return [.. _retries];
            }
        }
    }

    public IReadOnlyList<StreamEvent> Events
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    public static async Task<RunStream> OpenAsync(HttpClient http, string runId, TimeSpan lifetime)
    {
        var stream = new RunStream(http, runId);
        stream._stop.CancelAfter(lifetime);
        stream._reader = Task.Run(stream.ReadAsync);
        await stream._opened.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return stream;
    }

    /// <summary>The first event that matches, waiting for it up to <paramref name="timeout"/>.</summary>
    public async Task<StreamEvent> WaitForAsync(Func<StreamEvent, bool> match, TimeSpan timeout)
    {
        var deadline = Clock.Now + (long)(timeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                var found = _events.FirstOrDefault(match);
                if (found is not null)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            var left = TimeSpan.FromSeconds((deadline - Clock.Now) / (double)System.Diagnostics.Stopwatch.Frequency);
            if (left <= TimeSpan.Zero || _reader.IsCompleted)
            {
                throw new TimeoutException($"Run {_runId}: no matching event within {timeout} (got {string.Join(", ", Events.Select(e => e.Type))}).");
            }

            try
            {
                await changed.WaitAsync(left);
            }
            catch (TimeoutException)
            {
                // checked above on the next turn
            }
        }
    }

    public Task<StreamEvent> WaitForTypeAsync(string type, TimeSpan timeout) => WaitForAsync(e => e.Type == type, timeout);

    public Task<StreamEvent> WaitForEndAsync(TimeSpan timeout) => WaitForAsync(e => e.IsTerminal, timeout);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        try
        {
            await _reader;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task ReadAsync()
    {
        long lastSeq = 0;
        try
        {
            var delay = TimeSpan.FromMilliseconds(100);
            for (var attempt = 0; !_stop.IsCancellationRequested; attempt++)
            {
                if (attempt > 0)
                {
                    await Task.Delay(delay, _stop.Token); // the server ended or aborted the response (its time bound), or was out: resume
                    delay = TimeSpan.FromMilliseconds(100);
                }

                using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/runs/{_runId}/events/stream");
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
                if (lastSeq > 0)
                {
                    request.Headers.Add("Last-Event-ID", lastSeq.ToString(CultureInfo.InvariantCulture));
                }

                try
                {
                    using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
                    if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
                    {
                        // storage_unavailable: a careful client (an EventSource, fetch-event-source) tries again after Retry-After.
                        delay = TimeSpan.FromSeconds(Math.Min(10, response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 1));
                        Note("503");
                        continue;
                    }

                    response.EnsureSuccessStatusCode();
                    if (OpenedAt == 0)
                    {
                        OpenedAt = Clock.Now;
                        OpenedWall = DateTimeOffset.UtcNow;
                        _opened.TrySetResult();
                    }

                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token));
                    string? data = null;
                    while (await reader.ReadLineAsync(_stop.Token) is { } line)
                    {
                        if (line.Length == 0)
                        {
                            if (data is not null)
                            {
                                var e = Parse(data);
                                lastSeq = e.Seq;
                                Add(e);
                                data = null;
                                if (e.IsTerminal)
                                {
                                    return;
                                }
                            }
                        }
                        else if (line.StartsWith("data:", StringComparison.Ordinal))
                        {
                            data = line[5..].TrimStart();
                        }
                    }
                }
                catch (IOException) when (OpenedAt != 0 && !_stop.IsCancellationRequested)
                {
                    Note("aborted"); // the connection was reset mid-stream (the server's time bound does that): resume
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            _opened.TrySetException(ex);
        }
        finally
        {
            _opened.TrySetCanceled();
            Changed();
        }
    }

    private void Note(string retry)
    {
        lock (_lock)
        {
            _retries.Add(retry);
        }
    }

    private static StreamEvent Parse(string data)
    {
        var at = Clock.Now;
        var wall = DateTimeOffset.UtcNow;
        using var json = JsonDocument.Parse(data);
        var root = json.RootElement;
        string? requestId = null;
        if (root.TryGetProperty("payload", out var payload) && payload.TryGetProperty("value", out var value)
            && value.ValueKind == JsonValueKind.Object && value.TryGetProperty("request_id", out var id))
        {
            requestId = id.GetString();
        }

        return new StreamEvent(root.GetProperty("seq").GetInt64(), root.GetProperty("type").GetString()!, at, wall, requestId);
    }

    private void Add(StreamEvent e)
    {
        lock (_lock)
        {
            _events.Add(e);
        }

        Changed();
    }

    private void Changed()
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            previous = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }
}

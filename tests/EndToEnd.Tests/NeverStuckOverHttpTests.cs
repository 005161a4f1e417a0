using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>
/// What only shows over real HTTP, on the Durable Task Framework's Azure Storage backend: the guide's client with a human
/// slower than the stream's bound, a timer that fires early, a client resuming as the run ends, a body shorter than it said.
/// </summary>
public sealed partial class NeverStuckOverHttpTests
{
    [Fact]
    public async Task TheGuidesClient_WithAHumanSlowerThanTheStreamsBound_StillSeesTheRunEnd()
    {
        var settings = LocalHostSettings.Fresh() with { Settings = new Dictionary<string, string> { ["Streams__MaxDurationSeconds"] = "2" } };
        await using var host = await LocalHostProcess.StartAsync(settings);

        var run = await GuideClient.RunAsync(host, "yes", timeout: TimeSpan.FromSeconds(60), answerAfter: TimeSpan.FromSeconds(5));

        var transcript = $"{run.Output}\n--- stderr ---\n{run.Errors}";
        Assert.True(run.ExitCode == 0, transcript);
        Assert.Contains("Signal sent: approve", run.Output, StringComparison.Ordinal);
        Assert.Contains("Run ended: run.worker.succeeded", run.Output, StringComparison.Ordinal);
        var printed = SeqLine().Matches(run.Output).Select(m => long.Parse(m.Groups["seq"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, printed.Count).Select(i => (long)i), printed);
    }

    [Fact]
    public async Task SignalsSentJustBeforeTheDeadline_AreAccepted_ThoughTimersMayFireEarly()
    {
        await using var host = await LocalHostProcess.StartAsync(LocalHostSettings.Fresh());
        const string Body = """{"input":{"goal":"g","plan":[{"type":"approval"}]},"signal_timeout_seconds":2}""";
        var random = new Random(7);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            await Task.Delay(i * 150);
            var runId = await host.Http.CreateRunAsync(Body);
            var run = await host.Http.WaitForStatusAsync(runId, "awaiting_input");
            var expiresAt = DateTimeOffset.Parse(
                run.Json.GetProperty("pending_input").GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            var sendAt = expiresAt - TimeSpan.FromMilliseconds(random.Next(150, 450));
            var wait = sendAt - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            var sentAt = DateTimeOffset.UtcNow;
            var signal = await host.Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""");
            return (runId, sentAt, expiresAt, signal);
        }));

        var inTime = outcomes.Where(o => o.sentAt < o.expiresAt - TimeSpan.FromMilliseconds(50)).ToList();
        Assert.True(inTime.Count >= 8, $"only {inTime.Count} signals were sent in time; the machine is too slow for this test");
        foreach (var (runId, sentAt, expiresAt, signal) in inTime)
        {
            Assert.True(signal.Status == HttpStatusCode.Accepted, $"{runId}: sent {(expiresAt - sentAt).TotalMilliseconds:F0} ms before its deadline, got {signal}");
            await host.Http.WaitForStatusAsync(runId, "succeeded");
        }
    }

    [Fact]
    public async Task AClientResumingAsTheRunEnds_AlwaysGetsTheTerminalEvent()
    {
        await using var host = await LocalHostProcess.StartAsync(LocalHostSettings.Fresh());
        const string Body = """{"input":{"goal":"g","plan":[{"type":"approval"},{"type":"work"},{"type":"work"}]}}""";

        await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            var runId = await host.Http.CreateRunAsync(Body);
            await host.Http.WaitForStatusAsync(runId, "awaiting_input");
            Assert.Equal(HttpStatusCode.Accepted, (await host.Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);

            // Poll the log; the moment the run says it has ended, resume the stream after what was seen.
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                var seen = (await host.Http.EventsAsync(runId)).Select(e => e.GetProperty("seq").GetInt64()).DefaultIfEmpty(0).Max();
                var run = await host.Http.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}");
                if (run.Json.GetProperty("status").GetString() is not ("succeeded" or "failed" or "cancelled"))
                {
                    continue;
                }

                var stream = await ResumingStreamOnce(host, runId, seen);
                var log = await host.Http.EventsAsync(runId);
                Assert.True(seen == log.Count || stream.Count > 0, $"{runId}: resumed after seq {seen} of {log.Count} and got an empty stream");
                return;
            }

            Assert.Fail($"{runId} did not end");
        }));
    }

    /// <summary>
    /// A client that sends less than its Content-Length and waits gets a 4xx once the server gives up on the body; one that
    /// closes its side has gone away and may get no answer at all. Neither gets a 500, and nothing is created.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ABodyShorterThanItsContentLength_IsRefused_NotA500(bool clientStopsSending)
    {
        await using var host = await LocalHostProcess.StartAsync(LocalHostSettings.Fresh());
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, host.Settings.HttpPort);
        var stream = tcp.GetStream();
        var head = $"POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {host.Settings.ApiKey}\r\n" +
                   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input\":{\"goal\":";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.FlushAsync();
        if (clientStopsSending)
        {
            tcp.Client.Shutdown(SocketShutdown.Send);
        }

        var timer = Stopwatch.StartNew();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var status = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));

        if (!clientStopsSending || status is not null)
        {
            Assert.NotNull(status);
            Assert.StartsWith("HTTP/1.1 4", status, StringComparison.Ordinal);
        }

        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(15), $"answered after {timer.Elapsed}");
        Assert.DoesNotContain("Unhandled failure", host.Output, StringComparison.Ordinal);
        Assert.Empty(JsonDocument.Parse((await host.Http.SendAsync(HttpMethod.Get, "/v1/runs")).Body).RootElement.GetProperty("data").EnumerateArray());
    }

    private static async Task<List<JsonElement>> ResumingStreamOnce(LocalHostProcess host, string runId, long afterSeq)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/v1/runs/{runId}/events/stream", UriKind.Relative));
        request.Headers.Add("Last-Event-ID", afterSeq.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await host.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = new List<JsonElement>();
        await using var body = await response.Content.ReadAsStreamAsync();
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(body).EnumerateAsync())
        {
            events.Add(JsonDocument.Parse(item.Data).RootElement.Clone());
        }

        return events;
    }

    [GeneratedRegex(@"\[run\.[a-z_.]+\] seq=(?<seq>\d+)$", RegexOptions.Multiline)]
    private static partial Regex SeqLine();
}

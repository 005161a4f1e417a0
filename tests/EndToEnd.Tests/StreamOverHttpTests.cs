using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text.Json;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>The event stream over real HTTP: reconnects lose and repeat nothing; the timeout path ends the stream.</summary>
public sealed class StreamOverHttpTests(LocalHostFixture fixture) : IClassFixture<LocalHostFixture>
{
    [Fact]
    public async Task AClientThatDropsAndReconnectsWithLastEventId_GetsEveryEventExactlyOnce()
    {
        var http = fixture.Host.Http;
        var runId = await http.CreateRunAsync("""{"input":{"goal":"g","plan":[{"type":"work"},{"type":"approval"},{"type":"work"},{"type":"work"}]}}""");

        var first = new List<SseItem<string>>();
        using (var response = await OpenStreamAsync(http, runId, lastEventId: null))
        {
            await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
            {
                first.Add(item);
                if (Type(item) == "run.awaiting_input")
                {
                    break; // drop the connection mid-run
                }
            }
        }

        var signal = await http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""");
        Assert.Equal(HttpStatusCode.Accepted, signal.Status);

        var second = new List<SseItem<string>>();
        using (var response = await OpenStreamAsync(http, runId, lastEventId: first[^1].EventId))
        {
            await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
            {
                second.Add(item);
            }
        }

        var seqs = first.Concat(second).Select(i => long.Parse(i.EventId!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);
        Assert.All(first.Concat(second), i => Assert.Equal("run_event", i.EventType));
        Assert.Equal("run.worker.succeeded", Type(second[^1]));
        Assert.Equal(seqs.Count, (await http.EventsAsync(runId)).Count);
    }

    [Fact]
    public async Task NoAnswerBeforeTheDeadline_EndsTheStreamWithSignalTimeout()
    {
        var http = fixture.Host.Http;
        var runId = await http.CreateRunAsync("""{"input":{"goal":"g","plan":[{"type":"approval"}]},"signal_timeout_seconds":2}""");

        var items = new List<SseItem<string>>();
        using (var response = await OpenStreamAsync(http, runId, lastEventId: null))
        {
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
            {
                items.Add(item);
            }
        }

        var last = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("run.cancelled", last.GetProperty("type").GetString());
        Assert.Equal("signal_timeout", last.GetProperty("payload").GetProperty("value").GetProperty("reason_code").GetString());
        Assert.DoesNotContain(items, i => Type(i) == "run.signal_received");
        await http.WaitForStatusAsync(runId, "cancelled");

        var late = await http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""");
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
        Assert.Equal("run_not_awaiting_input", late.Json.GetProperty("reason_code").GetString());
    }

    private static async Task<HttpResponseMessage> OpenStreamAsync(HttpClient http, string runId, string? lastEventId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/v1/runs/{runId}/events/stream", UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    private static string Type(SseItem<string> item) => JsonDocument.Parse(item.Data).RootElement.GetProperty("type").GetString()!;
}

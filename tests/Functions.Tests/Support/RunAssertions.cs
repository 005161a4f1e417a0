using System.Text.Json;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>Run-level helpers over the API: create, wait for events, read the whole log, check its invariants.</summary>
public static class RunAssertions
{
    public static async Task<string> CreateRunAsync(this ApiClient api, string body)
    {
        var response = await api.PostAsync("/v1/runs", body);
        Assert.True(response.Status == 201, $"create failed: {response}");
        return response.Json.GetProperty("id").GetString()!;
    }

    public static string Plan(params string[] steps) =>
        "{\"input\":{\"goal\":\"test goal\",\"plan\":[" + string.Join(",", steps) + "]}}";

    public static string PlanWithTimeout(int timeoutSeconds, params string[] steps) =>
        "{\"input\":{\"goal\":\"test goal\",\"plan\":[" + string.Join(",", steps) + "]},\"signal_timeout_seconds\":" + timeoutSeconds + "}";

    public static async Task<List<JsonElement>> EventsAsync(this ApiClient api, string runId)
    {
        var all = new List<JsonElement>();
        long after = 0;
        while (true)
        {
            var page = await api.GetAsync($"/v1/runs/{runId}/events?after_seq={after}&limit=1000");
            Assert.Equal(200, page.Status);
            var data = page.Json.GetProperty("data").EnumerateArray().ToList();
            all.AddRange(data);
            if (!page.Json.GetProperty("has_more").GetBoolean())
            {
                return all;
            }

            after = data[^1].GetProperty("seq").GetInt64();
        }
    }

    public static async Task<JsonElement> WaitForEventAsync(this ApiClient api, string runId, string type, TimeSpan? timeout = null)
    {
        var events = await Eventually.GetAsync(
            () => api.EventsAsync(runId), list => list.Any(e => e.GetProperty("type").GetString() == type), timeout, $"{type} on {runId}");
        return events.First(e => e.GetProperty("type").GetString() == type);
    }

    /// <summary>Waits for the run's terminal event and returns the whole log, checked for the log's invariants.</summary>
    public static async Task<List<JsonElement>> WaitForEndAsync(this ApiClient api, string runId, TimeSpan? timeout = null)
    {
        var events = await Eventually.GetAsync(
            () => api.EventsAsync(runId), list => list.Any(e => IsTerminal(e.GetProperty("type").GetString()!)), timeout, $"end of {runId}");
        AssertLogIsSound(events);
        return events;
    }

    public static async Task<JsonElement> WaitForStatusAsync(this ApiClient api, string runId, string status, TimeSpan? timeout = null)
    {
        var response = await Eventually.GetAsync(
            () => api.GetAsync($"/v1/runs/{runId}"), r => r.Json.GetProperty("status").GetString() == status, timeout, $"{runId} to be {status}");
        return response.Json;
    }

    /// <summary>seq runs 1, 2, 3… with no gap or duplicate; run.created comes first; nothing follows a terminal event.</summary>
    public static void AssertLogIsSound(IReadOnlyList<JsonElement> events)
    {
        Assert.NotEmpty(events);
        for (var i = 0; i < events.Count; i++)
        {
            Assert.Equal(i + 1, events[i].GetProperty("seq").GetInt64());
        }

        Assert.Equal("run.created", Type(events[0]));
        var terminal = events.Select((e, i) => (e, i)).Where(x => IsTerminal(Type(x.e))).ToList();
        Assert.True(terminal.Count <= 1, "more than one terminal event");
        if (terminal.Count == 1)
        {
            Assert.Equal(events.Count - 1, terminal[0].i);
        }
    }

    public static string Type(JsonElement e) => e.GetProperty("type").GetString()!;

    public static JsonElement Value(JsonElement e) => e.GetProperty("payload").GetProperty("value");

    public static List<string> Types(IEnumerable<JsonElement> events) => events.Select(Type).ToList();

    private static bool IsTerminal(string type) => type is "run.worker.succeeded" or "run.worker.failed" or "run.cancelled";
}

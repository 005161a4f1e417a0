using System.Text.Json;
using AgentRuns.Functions.Tests.Support;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>The run's paths through the real orchestration: waits, timeouts, cancels, failures.</summary>
public sealed class RunLifecycleTests
{
    private const string Approval = """{"type":"approval","prompt":"Send it?","action":{"tool":"send_email"}}""";
    private const string Data = """{"type":"data","prompt":"Who should receive it?"}""";
    private const string Work = """{"type":"work","tool":"draft","summary":"drafted"}""";
    private const string LongWork = """{"type":"work","tool":"crunch","summary":"crunching","duration_seconds":60}""";

    [Fact]
    public async Task TwoWaitsInOneRun_EachGetsItsOwnRequest_AndTheRunSucceeds()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Work, Approval, Data, """{"type":"finish","output":{"sent":true}}"""));

        var first = Value(await api.WaitForEventAsync(runId, "run.awaiting_input"));
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);

        var second = await Eventually.GetAsync(
            () => api.EventsAsync(runId), l => l.Count(e => Type(e) == "run.awaiting_input") == 2, what: "second wait");
        var secondValue = Value(second.Last(e => Type(e) == "run.awaiting_input"));
        Assert.NotEqual(first.GetProperty("request_id").GetString(), secondValue.GetProperty("request_id").GetString());
        Assert.Equal("NEEDS_DATA", secondValue.GetProperty("reason_code").GetString());
        Assert.Equal("data", secondValue.GetProperty("input_kind").GetString());

        var wrongKind = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""");
        Assert.Equal(400, wrongKind.Status);
        Assert.Equal("invalid_signal_type", wrongKind.ReasonCode);

        var submit = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"recipient":"leads@example.com"}}""");
        Assert.Equal(202, submit.Status);
        Assert.Equal(secondValue.GetProperty("request_id").GetString(), submit.Json.GetProperty("request_id").GetString());

        var events = await api.WaitForEndAsync(runId);
        Assert.Equal(
            ["run.created", "run.started", "run.worker.progress", "run.awaiting_input", "run.signal_received",
             "run.awaiting_input", "run.signal_received", "run.worker.succeeded"],
            Types(events));
        Assert.True(Value(events[^1]).GetProperty("output").GetProperty("sent").GetBoolean());
    }

    [Fact]
    public async Task NoAnswerBeforeTheDeadline_CancelsWithSignalTimeout_AndALateSignalGets409()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(PlanWithTimeout(1, Approval));

        // The deadline is the run's timeout after the orchestration opened the request, which is just before the event's write.
        var awaiting = await api.WaitForEventAsync(runId, "run.awaiting_input");
        var opened = DateTimeOffset.Parse(awaiting.GetProperty("timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var expiresAt = DateTimeOffset.Parse(Value(awaiting).GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiresAt, opened.AddSeconds(-4), opened.AddSeconds(1));

        var events = await api.WaitForEndAsync(runId, TimeSpan.FromSeconds(20));
        Assert.Equal("run.cancelled", Type(events[^1]));
        Assert.Equal("signal_timeout", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.DoesNotContain("run.signal_received", Types(events));

        var run = await api.WaitForStatusAsync(runId, "cancelled");
        Assert.Equal("signal_timeout", run.GetProperty("error").GetProperty("reason_code").GetString());

        var late = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""");
        Assert.Equal(409, late.Status);
        Assert.Equal("run_not_awaiting_input", late.ReasonCode);
        Assert.Equal(events.Count, (await api.EventsAsync(runId)).Count);
    }

    [Fact]
    public async Task SignalToARunThatIsWorking_Gets409_AndCancelWhileWorking_EndsItAtOnce()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(LongWork, Approval));
        await api.WaitForEventAsync(runId, "run.worker.progress");
        await api.WaitForStatusAsync(runId, "running");

        var signal = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""");
        Assert.Equal(409, signal.Status);
        Assert.Equal("run_not_awaiting_input", signal.ReasonCode);

        var cancel = await api.PostAsync($"/v1/runs/{runId}/cancel", null);
        Assert.Equal(202, cancel.Status);
        var events = await api.WaitForEndAsync(runId, TimeSpan.FromSeconds(20));
        Assert.Equal("run.cancelled", Type(events[^1]));
        Assert.Equal("cancelled_by_user", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.DoesNotContain("run.awaiting_input", Types(events));
        await api.WaitForStatusAsync(runId, "cancelled");
    }

    [Fact]
    public async Task CancelWhileWaiting_CancelsTheRun_ThenSignalAndCancelAreRefused()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForEventAsync(runId, "run.awaiting_input");

        var cancel = await api.PostAsync($"/v1/runs/{runId}/cancel", """{"reason":"Wrong list – «ops» <all>"}""");
        Assert.Equal(202, cancel.Status);
        var signal = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""");
        Assert.Equal(409, signal.Status);

        var events = await api.WaitForEndAsync(runId);
        Assert.Equal("run.cancelled", Type(events[^1]));
        Assert.Equal("cancelled_by_user", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.Equal("Wrong list – «ops» <all>", Value(events[^1]).GetProperty("reason").GetString());
        var run = await api.WaitForStatusAsync(runId, "cancelled");
        Assert.Equal(JsonValueKind.Null, run.GetProperty("pending_input").ValueKind);
        Assert.Equal("Wrong list – «ops» <all>", run.GetProperty("error").GetProperty("reason").GetString());

        var again = await api.PostAsync($"/v1/runs/{runId}/cancel", null);
        Assert.Equal(409, again.Status);
        Assert.Equal("run_not_cancellable", again.ReasonCode);
    }

    [Fact]
    public async Task ASignalNamingAnotherRequest_Gets409_AndTheRunKeepsWaiting()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Approval));
        var requestId = Value(await api.WaitForEventAsync(runId, "run.awaiting_input")).GetProperty("request_id").GetString();

        var stale = await api.PostAsync($"/v1/runs/{runId}/signal", $$"""{"action":"approve","request_id":"{{Guid.NewGuid()}}"}""");
        Assert.Equal(409, stale.Status);
        Assert.Equal("run_not_awaiting_input", stale.ReasonCode);
        await api.WaitForStatusAsync(runId, "awaiting_input");

        var right = await api.PostAsync($"/v1/runs/{runId}/signal", $$"""{"action":"approve","request_id":"{{requestId}}"}""");
        Assert.Equal(202, right.Status);
        Assert.Equal("run.worker.succeeded", Type((await api.WaitForEndAsync(runId))[^1]));
    }

    [Fact]
    public async Task AFailStep_FailsTheRunWithItsReasonCode()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Work, """{"type":"fail","reason_code":"tool_unavailable","reason":"SMTP is down"}"""));

        var events = await api.WaitForEndAsync(runId);
        Assert.Equal("run.worker.failed", Type(events[^1]));
        Assert.Equal("tool_unavailable", Value(events[^1]).GetProperty("reason_code").GetString());
        var run = await api.WaitForStatusAsync(runId, "failed");
        Assert.Equal("SMTP is down", run.GetProperty("error").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task ListRuns_FiltersByStatus_NewestFirst_AndPagesWithACursor()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var older = await api.CreateRunAsync(Plan(Approval));
        var newer = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForStatusAsync(older, "awaiting_input");
        await api.WaitForStatusAsync(newer, "awaiting_input");

        var inbox = await api.GetAsync("/v1/runs?status=awaiting_input&limit=100");
        Assert.Equal(200, inbox.Status);
        var ids = inbox.Json.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetString()).ToList();
        Assert.True(ids.IndexOf(newer) >= 0 && ids.IndexOf(newer) < ids.IndexOf(older), "newest first, both listed");
        Assert.All(inbox.Json.GetProperty("data").EnumerateArray(), r => Assert.Equal("awaiting_input", r.GetProperty("status").GetString()));

        var first = await api.GetAsync("/v1/runs?limit=1");
        var cursor = first.Json.GetProperty("next_cursor").GetString();
        Assert.NotNull(cursor);
        var second = await api.GetAsync($"/v1/runs?limit=1&cursor={cursor}");
        Assert.Equal(200, second.Status);
        Assert.NotEqual(
            first.Json.GetProperty("data")[0].GetProperty("id").GetString(),
            second.Json.GetProperty("data")[0].GetProperty("id").GetString());

        foreach (var id in new[] { older, newer })
        {
            Assert.Equal(202, (await api.PostAsync($"/v1/runs/{id}/cancel", null)).Status);
            await api.WaitForEndAsync(id);
        }
    }

    [Fact]
    public async Task EventsPage_ReturnsEventsAfterTheGivenSeq_InOrder_AndSaysWhenThereIsMore()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Work, Work, Work, Work));
        var all = await api.WaitForEndAsync(runId);
        Assert.Equal(7, all.Count);

        var page = await api.GetAsync($"/v1/runs/{runId}/events?after_seq=2&limit=3");
        Assert.Equal(200, page.Status);
        Assert.Equal([3L, 4L, 5L], page.Json.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
        Assert.True(page.Json.GetProperty("has_more").GetBoolean());
        Assert.Equal(5, page.Json.GetProperty("next_after_seq").GetInt64());

        var last = await api.GetAsync($"/v1/runs/{runId}/events?after_seq=5");
        Assert.False(last.Json.GetProperty("has_more").GetBoolean());
        Assert.Equal(2, last.Json.GetProperty("data").GetArrayLength());
    }
}

using System.Net;
using System.Text.Json;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using AgentRuns.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// What a model may answer that the service cannot store or show as it is (huge or deeply nested tool arguments, huge tool names,
/// a huge final answer): each ends deterministically after one model call for the step, never a retried step that asks the model
/// again. The real orchestration on the Durable test host, tables in Azurite, a scripted model (<see cref="ScriptedChatClient"/>).
/// </summary>
public sealed class ModelAgentLimitsTests
{
    // The orchestration retries a failing step 5 times over about 15 s: a run that ends sooner did not wait out retries.
    private static readonly TimeSpan End = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AToolCallTooLargeToStore_EndsTheRunWithAgentErrorAtOnce_CallingTheModelOnce()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var body = new string('x', 600_000); // 1.2 MB as UTF-16: more than a table entity holds
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(("c1", SampleEmailTools.DraftEmail, new { to = "team@example.com", subject = "s", body })),
            Reply.Text("Never reached.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId, End);

        Assert.Single(script.Calls);
        var failed = Value(events[^1]);
        Assert.Equal(("run.worker.failed", "agent_error"), (Type(events[^1]), failed.GetProperty("reason_code").GetString()));
        Assert.Contains("too large to store", failed.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.False(events.Any(e => e.GetRawText().Length > 20_000), "an event holds the arguments");
    }

    [Fact]
    public async Task AFinalAnswerTooLargeToStore_EndsTheRunWithAgentErrorAtOnce_CallingTheModelOnce()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        // Control characters are stored escaped (\u0001, six characters each): 2 MB of them cannot be stored even when cut.
        var script = ScriptedChatClient.Register(ModelScript.Turns(Reply.Text(new string('\u0001', 2_000_000))));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId, End);

        Assert.Single(script.Calls);
        var failed = Value(events[^1]);
        Assert.Equal(("run.worker.failed", "agent_error"), (Type(events[^1]), failed.GetProperty("reason_code").GetString()));
        Assert.Contains("too large to store", failed.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFinalAnswerOf2MB_IsCutTo100000Characters_AndTheRunSucceeds()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var script = ScriptedChatClient.Register(ModelScript.Turns(Reply.Text(new string('a', 2_000_000))));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId, End);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        var answer = Value(events[^1]).GetProperty("output").GetProperty("answer").GetString()!;
        Assert.Equal(100_000, answer.Length);
        Assert.EndsWith("a…", answer, StringComparison.Ordinal);
        Assert.Single(script.Calls);
    }

    [Fact]
    public async Task AFinalAnswerWhoseOutputIsTooLarge_EndsWithOutputTooLarge_CallingTheModelOnce()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        // 100,000 quotes fit the conversation but are 200,000 characters of JSON output: more than a run's output holds.
        var script = ScriptedChatClient.Register(ModelScript.Turns(Reply.Text(new string('"', 100_000))));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId, End);

        var failed = Value(events[^1]);
        Assert.Equal(("run.worker.failed", "output_too_large"), (Type(events[^1]), failed.GetProperty("reason_code").GetString()));
        Assert.Single(script.Calls);
    }

    [Fact]
    public async Task AnApprovalWhoseArgumentsAreTooLongToShow_IsAnErrorResultTheModelCanCorrect_NotARequest()
    {
        // 200 KB fits a stored model turn, but what the approver sees is kept in the run's record, which must stay small.
        var api = (await RunsTestHost.GetAsync()).Api;
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(("c1", SampleEmailTools.SendEmail, new { to = "team@example.com", subject = "s", body = new string('b', 200_000) })),
            Reply.Calls(("c2", SampleEmailTools.SendEmail, new { to = "team@example.com", subject = "s", body = "Short." })),
            Reply.Text("Sent.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input", End)).GetProperty("pending_input");

        Assert.Equal("c2", pending.GetProperty("proposed_action").GetProperty("tool_call_id").GetString());
        var (callId, result) = Assert.Single(script.Calls[1].ToolResults);
        Assert.Equal("c1", callId);
        Assert.Contains("too long to put before a human", result, StringComparison.Ordinal);
        Assert.Equal(1, (await api.EventsAsync(runId)).Count(e => Type(e) == "run.awaiting_input"));
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        Assert.Equal("run.worker.succeeded", Type((await api.WaitForEndAsync(runId, End))[^1]));
    }

    [Fact]
    public async Task ToolArgumentsNestedTooDeep_AreAnErrorResultTheModelCanCorrect_AndTheStepIsNotRetried()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            new ChatResponse(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", SampleEmailTools.DraftEmail, Nested(100))])),
            Reply.Text("Gave up on the draft.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId, End);

        Assert.Equal([0, 1], script.Calls.Select(c => c.Turn));
        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        var (callId, result) = Assert.Single(script.Calls[1].ToolResults);
        Assert.Equal("c1", callId);
        Assert.Contains("nested deeper than 64 levels", result, StringComparison.Ordinal);
        var note = events.Where(e => Type(e) == "run.worker.progress").Select(Value).Single(n => n.GetProperty("tool").GetString() == SampleEmailTools.DraftEmail);
        Assert.StartsWith("Failed: ", note.GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverHttp_ToolArgumentsNestedTooDeep_AreAnErrorResultTheModelCanCorrect()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var deep = string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 100);
        var server = ScriptedModelHandler.Register((attempt, _) => ScriptedModelHandler.Json(HttpStatusCode.OK, attempt == 0
            ? ChatCompletions.Response("test-model", null, new PresetToolCall("c1", SampleEmailTools.DraftEmail, deep))
            : ChatCompletions.Response("test-model", "Gave up on the draft.")));
        var runId = await api.CreateRunAsync(server.CreateBody());

        var events = await api.WaitForEndAsync(runId, End);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal(2, server.Requests.Count);
        var toolMessage = server.Requests[1].Body.GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("role").GetString() == "tool");
        Assert.Contains("Error:", toolMessage.GetProperty("content").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AToolCallIdOf100KB_IsReplacedByAShortOne_SoTheApprovalAndTheEmailOutboxRowCanBeWritten()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var hugeId = "call_" + new string('i', 100_000);
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls((hugeId, SampleEmailTools.SendEmail, new { to = "team@example.com", subject = "s", body = "b" })),
            Reply.Text("Sent.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var proposed = (await api.WaitForStatusAsync(runId, "awaiting_input", End)).GetProperty("pending_input").GetProperty("proposed_action");
        var id = proposed.GetProperty("tool_call_id").GetString()!;
        Assert.InRange(id.Length, 1, 64);
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var events = await api.WaitForEndAsync(runId, End);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal(id, Assert.Single(await host.Services.GetRequiredService<EmailOutbox>().ListAsync(api.TenantId, runId)).ToolCallId);
        Assert.Equal(2, script.Calls.Count);
        Assert.False(events.Any(e => e.GetRawText().Contains(hugeId, StringComparison.Ordinal)), "an event holds the model's id");
    }

    [Fact]
    public async Task AToolNameOf100KB_IsAnUnknownTool_AndNoEventHoldsIt()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var name = new string('n', 100_000);
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls("Calling it.", ("c1", name, new { x = 1 })),
            Reply.Text("Done without it.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId, End);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal([0, 1], script.Calls.Select(c => c.Turn));
        Assert.False(events.Any(e => e.GetRawText().Contains(new string('n', 65), StringComparison.Ordinal)), "an event holds the name");
        var (_, result) = Assert.Single(script.Calls[1].ToolResults);
        Assert.Contains("100000 characters", result, StringComparison.Ordinal);
        Assert.True(result.Length < 1_000, "the result quotes the name");
        // What the model is shown of its own call is bounded too: the next request holds no such name.
        Assert.DoesNotContain(
            script.Calls[1].Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>(), c => c.Name.Length > 64);
    }

    /// <summary>Arguments <paramref name="depth"/> objects deep: <c>{"a":{"a":…1…}}</c>.</summary>
    private static Dictionary<string, object?> Nested(int depth)
    {
        object? value = 1;
        for (var i = 1; i < depth; i++)
        {
            value = new Dictionary<string, object?> { ["a"] = value };
        }

        return new Dictionary<string, object?> { ["a"] = value };
    }
}

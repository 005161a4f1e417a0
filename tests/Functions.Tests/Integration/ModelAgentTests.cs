using System.Net;
using System.Text.Json;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// The model agent in the real orchestration (Durable in-process test host, tables in Azurite), driven through the API with a
/// scripted model (<see cref="ScriptedChatClient"/>), or with the real OpenAI SDK and HTTP resilience handler over an in-memory
/// chat-completions server (<see cref="ScriptedModelHandler"/>).
/// </summary>
public sealed class ModelAgentTests
{
    private static readonly object Email = new { to = "team@example.com", subject = "Weekly update", body = "Shipped the model agent." };

    /// <summary>The guide's story: draft (runs at once), send (waits for approval), then the final answer.</summary>
    private static ModelScript DraftSendFinish() => ScriptedChatClient.Register(ModelScript.Turns(
        Reply.Calls("I'll draft it first.", ("call_draft", SampleEmailTools.DraftEmail, Email)),
        Reply.Calls(("call_send", SampleEmailTools.SendEmail, Email)),
        Reply.Text("Sent the weekly update to team@example.com.")));

    [Fact]
    public async Task Approve_RunsTheApprovedTool_AndTheModelsFinalAnswerIsTheOutput()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var script = DraftSendFinish();
        var runId = await api.CreateRunAsync(script.CreateBody());

        var run = await api.WaitForStatusAsync(runId, "awaiting_input");
        var pending = run.GetProperty("pending_input");
        Assert.Equal("approval", pending.GetProperty("input_kind").GetString());
        Assert.Equal("AWAITING_APPROVAL", pending.GetProperty("reason_code").GetString());
        Assert.StartsWith("Approve send_email? Sends an email.", pending.GetProperty("prompt").GetString(), StringComparison.Ordinal);
        var proposed = pending.GetProperty("proposed_action");
        Assert.Equal("send_email", proposed.GetProperty("tool").GetString());
        Assert.Equal("call_send", proposed.GetProperty("tool_call_id").GetString());
        Assert.Equal("team@example.com", proposed.GetProperty("arguments").GetProperty("to").GetString());
        Assert.Equal(["approve", "reject"], pending.GetProperty("allowed_actions").EnumerateArray().Select(a => a.GetString()));
        Assert.True(pending.GetProperty("allow_edits").GetBoolean());
        var schema = pending.GetProperty("response_schema");
        Assert.Equal("object", schema.GetProperty("type").GetString());
        Assert.True(schema.GetProperty("properties").TryGetProperty("body", out _));

        // submit_input is not an answer to an approval of a tool call.
        var submit = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"x":1}}""");
        Assert.Equal((400, "invalid_signal_type"), (submit.Status, submit.ReasonCode));

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        var output = Value(events[^1]).GetProperty("output");
        Assert.Equal("Sent the weekly update to team@example.com.", output.GetProperty("answer").GetString());
        Assert.Equal(3, output.GetProperty("turns").GetInt32());
        var sent = Assert.Single(await host.Services.GetRequiredService<EmailOutbox>().ListAsync(api.TenantId, runId));
        Assert.Equal(("team@example.com", "Weekly update", "call_send"), (sent.To, sent.Subject, sent.ToolCallId));

        // Every model message and tool call is a progress event, in order, before the request it led to.
        var progress = events.Where(e => Type(e) == "run.worker.progress").Select(Value).ToList();
        Assert.Equal(
            ["model", "draft_email", "model", "send_email", "model"],
            progress.Select(p => p.GetProperty("tool").GetString()));
        Assert.StartsWith("I'll draft it first.", progress[0].GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal("team@example.com", progress[1].GetProperty("arguments").GetProperty("to").GetString());
        Assert.Contains("queued", progress[3].GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal(
            ["run.created", "run.started", "run.worker.progress", "run.worker.progress", "run.worker.progress", "run.awaiting_input",
             "run.signal_received", "run.worker.progress", "run.worker.progress", "run.worker.succeeded"],
            Types(events));

        // The model saw the tool results: the draft after turn 1, the sent email after turn 2.
        Assert.Equal(3, script.Calls.Count);
        Assert.Equal(["call_draft", "call_send"], script.Calls[2].ToolResults.Select(r => r.CallId));
        Assert.Contains("queued", script.Calls[2].ToolResults[1].Result, StringComparison.Ordinal);
        Assert.Contains(AskHumanTool.Name, script.Calls[0].Tools);
        Assert.Contains(SampleEmailTools.SendEmail, script.Calls[0].Tools);
    }

    [Fact]
    public async Task ApproveWithEdits_SendsWhatTheHumanApproved_AndTellsTheModel()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var script = DraftSendFinish();
        var runId = await api.CreateRunAsync(script.CreateBody());
        await api.WaitForStatusAsync(runId, "awaiting_input");

        // The tool's parameter schema checks the edit: body is required.
        var invalid = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"to":"leads@example.com","subject":"s"}}}""");
        Assert.Equal((422, "invalid_signal_payload"), (invalid.Status, invalid.ReasonCode));

        var approve = await api.PostAsync(
            $"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"to":"leads@example.com","subject":"Weekly update (edited)","body":"Shorter."}}}""");
        Assert.Equal(202, approve.Status);
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        var received = Value(events.Single(e => Type(e) == "run.signal_received"));
        Assert.True(received.GetProperty("edited").GetBoolean());
        var sent = Assert.Single(await host.Services.GetRequiredService<EmailOutbox>().ListAsync(api.TenantId, runId));
        Assert.Equal(("leads@example.com", "Weekly update (edited)", "Shorter."), (sent.To, sent.Subject, sent.Body));
        var result = script.Calls[2].ToolResults.Single(r => r.CallId == "call_send").Result;
        Assert.Contains("edited", result, StringComparison.Ordinal);
        Assert.Contains("leads@example.com", result, StringComparison.Ordinal);
        var sendNote = events.Where(e => Type(e) == "run.worker.progress").Select(Value).Single(p => p.GetProperty("tool").GetString() == "send_email");
        Assert.Equal("leads@example.com", sendNote.GetProperty("arguments").GetProperty("to").GetString());
    }

    [Fact]
    public async Task Reject_FailsTheRunWithRejectedAndTheReason_AndSendsNothing()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var script = DraftSendFinish();
        var runId = await api.CreateRunAsync(script.CreateBody());
        await api.WaitForStatusAsync(runId, "awaiting_input");

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"reject","payload":{"reason":"Not this week."}}""")).Status);
        var events = await api.WaitForEndAsync(runId);

        var failed = Value(events[^1]);
        Assert.Equal(("run.worker.failed", "rejected", "Not this week."), (Type(events[^1]), failed.GetProperty("reason_code").GetString(), failed.GetProperty("reason").GetString()));
        Assert.Empty(await host.Services.GetRequiredService<EmailOutbox>().ListAsync(api.TenantId, runId));
        Assert.Equal(2, script.Calls.Count);
    }

    [Fact]
    public async Task AskHuman_IsADataRequestWithTheQuestion_AndTheSubmittedPayloadIsTheToolResult()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var schema = new { type = "object", required = new[] { "to" }, properties = new { to = new { type = "string", pattern = "^[^@ ]+@[^@ ]+$" } } };
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(("call_ask", AskHumanTool.Name, new { question = "Who should get the update?", kind = "data", response_schema = schema })),
            Reply.Text("Noted the recipients.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        Assert.Equal(("data", "NEEDS_DATA", "Who should get the update?"), (
            pending.GetProperty("input_kind").GetString(), pending.GetProperty("reason_code").GetString(), pending.GetProperty("prompt").GetString()));
        Assert.Equal(["submit_input", "reject"], pending.GetProperty("allowed_actions").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("^[^@ ]+@[^@ ]+$", pending.GetProperty("response_schema").GetProperty("properties").GetProperty("to").GetProperty("pattern").GetString());
        Assert.Equal((400, "invalid_signal_type"), await StatusAsync(api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")));
        Assert.Equal((422, "invalid_signal_payload"), await StatusAsync(api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"to":"x"}}""")));

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"to":"leads@example.com"}}""")).Status);
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("Noted the recipients.", Value(events[^1]).GetProperty("output").GetProperty("answer").GetString());
        var (callId, result) = Assert.Single(script.Calls[1].ToolResults);
        Assert.Equal("call_ask", callId);
        Assert.Equal("leads@example.com", JsonDocument.Parse(result).RootElement.GetProperty("to").GetString());
    }

    [Fact]
    public async Task AskHuman_ForAClarification_WithASchemaTheApiRefuses_AsksWithoutTheSchema()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var refused = new { type = "object", patternProperties = new Dictionary<string, object> { ["^x"] = new { type = "string" } } };
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(("call_ask", AskHumanTool.Name, new { question = "Which team?", response_schema = refused })),
            Reply.Text("ok")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");

        Assert.Equal(("clarification", "Which team?"), (pending.GetProperty("input_kind").GetString(), pending.GetProperty("prompt").GetString()));
        Assert.Equal(JsonValueKind.Null, pending.GetProperty("response_schema").ValueKind);
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"team":"platform"}}""")).Status);
        Assert.Equal("run.worker.succeeded", Type((await api.WaitForEndAsync(runId))[^1]));
    }

    [Fact]
    public async Task SeveralToolCallsInOneTurn_RunInTheModelsOrder_AndEachApprovalIsItsOwnRequest()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(
                ("c1", SampleEmailTools.DraftEmail, Email),
                ("c2", SampleEmailTools.SendEmail, Email),
                ("c3", TestModelTools.ArchiveThread, new { thread = "weekly-42" }),
                ("c4", SampleEmailTools.DraftEmail, new { to = "me@example.com", subject = "Notes", body = "Done." })),
            Reply.Text("All done.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var first = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        Assert.Equal("c2", first.GetProperty("proposed_action").GetProperty("tool_call_id").GetString());
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);

        var second = (await Eventually.GetAsync(
            () => api.GetAsync($"/v1/runs/{runId}"),
            r => r.Json.TryGetProperty("pending_input", out var p) && p.ValueKind == JsonValueKind.Object
                && p.GetProperty("proposed_action").GetProperty("tool_call_id").GetString() == "c3")).Json.GetProperty("pending_input");
        Assert.Equal("archive_thread", second.GetProperty("proposed_action").GetProperty("tool").GetString());
        Assert.False(second.GetProperty("allow_edits").GetBoolean());
        Assert.Equal((400, "invalid_signal_payload"), await StatusAsync(api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"thread":"other"}}}""")));
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal(2, script.Calls.Count);
        Assert.Equal(["c1", "c2", "c3", "c4"], script.Calls[1].ToolResults.Select(r => r.CallId));
        Assert.Contains("archived weekly-42", script.Calls[1].ToolResults[2].Result, StringComparison.Ordinal);
        Assert.Single(await host.Services.GetRequiredService<EmailOutbox>().ListAsync(api.TenantId, runId));

        // The log in order: the model's turn, c1, request for c2, c2, request for c3, c3, c4, the final answer.
        var steps = events
            .Where(e => Type(e) is "run.worker.progress" or "run.awaiting_input")
            .Select(e => Type(e) == "run.awaiting_input"
                ? "ask:" + Value(e).GetProperty("proposed_action").GetProperty("tool_call_id").GetString()
                : Value(e).GetProperty("tool").GetString())
            .ToList();
        Assert.Equal(["model", "draft_email", "ask:c2", "send_email", "ask:c3", "archive_thread", "draft_email", "model"], steps);
    }

    [Fact]
    public async Task AHostCrashMidTurn_DoesNotCallTheModelAgainForThatStep()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(("c1", TestModelTools.CrashOnce, new { note = "hello" })),
            Reply.Text("Done after the crash.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId);

        // The first attempt of step 1 stored the model's response, ran the tool and died; the retry ran the tool again from the
        // stored response and did not ask the model.
        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal(2, TestModelTools.CrashOnceRuns(runId, "c1"));
        Assert.Equal([0, 1], script.Calls.Select(c => c.Turn));
        var notes = events.Where(e => Type(e) == "run.worker.progress").Select(Value).ToList();
        Assert.Equal(["model", "crash_once", "model"], notes.Select(n => n.GetProperty("tool").GetString()));
        Assert.Equal("Result: \"noted: hello\"", notes[1].GetProperty("summary").GetString());
    }

    [Fact]
    public async Task AStepWhoseDecisionIsStored_ReturnsThatDecisionAgain_WithoutCallingTheModel()
    {
        var host = await RunsTestHost.GetAsync();
        var agent = host.Services.GetRequiredService<ModelAgent>();
        var script = ScriptedChatClient.Register(ModelScript.Turns(Reply.Calls(("c1", SampleEmailTools.SendEmail, Email))));
        var input = new AgentStepInput(
            "run_" + Guid.NewGuid().ToString("N"), JsonSerializer.Serialize(new { goal = script.Goal() }), 0, [], host.Api.TenantId, AgentNames.Model);

        var first = await agent.DecideAsync(input, CancellationToken.None);
        var again = await agent.DecideAsync(input, CancellationToken.None);

        Assert.Single(script.Calls);
        Assert.Equal(AgentDecisionKind.AskHuman, first.Kind);
        Assert.Equal(first.Request!.ProposedActionJson, again.Request!.ProposedActionJson);
        Assert.Equal(first.Notes!.Select(n => n.Summary), again.Notes!.Select(n => n.Summary));
    }

    [Fact]
    public async Task ToolArguments_AreMaskedInTheLog_AndBadCallsAreToldToTheModel()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(
                ("c1", SampleEmailTools.DraftEmail, new { to = "a@example.com", subject = "s", body = "b", api_token = "tok-hunter2" }),
                ("c2", SampleEmailTools.DraftEmail, new { to = "a@example.com" }),
                ("c3", "no_such_tool", new { }),
                ("c4", AskHumanTool.Name, new { kind = "data" })),
            Reply.Text("Finished.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.DoesNotContain(events, e => e.GetRawText().Contains("tok-hunter2", StringComparison.Ordinal));
        var notes = events.Where(e => Type(e) == "run.worker.progress").Select(Value).ToList();
        Assert.Equal("[REDACTED]", notes[1].GetProperty("arguments").GetProperty("api_token").GetString());
        var results = script.Calls[1].ToolResults.ToDictionary(r => r.CallId, r => r.Result);
        Assert.Contains("Drafted", results["c1"], StringComparison.Ordinal);
        Assert.StartsWith("Error:", results["c2"], StringComparison.Ordinal);
        Assert.Contains("no tool named 'no_such_tool'", results["c3"], StringComparison.Ordinal);
        Assert.Contains("question", results["c4"], StringComparison.Ordinal);
        Assert.Equal(3, notes.Count(n => n.GetProperty("summary").GetString()!.StartsWith("Failed: ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ALoopingModel_EndsWithAgentTurnLimit()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var script = ScriptedChatClient.Register(new ModelScript((turn, _) => Reply.Calls(($"c{turn}", SampleEmailTools.DraftEmail, Email))));
        var runId = await api.CreateRunAsync(script.CreateBody());

        var events = await api.WaitForEndAsync(runId);

        var failed = Value(events[^1]);
        Assert.Equal(("run.worker.failed", "agent_turn_limit"), (Type(events[^1]), failed.GetProperty("reason_code").GetString()));
        Assert.Equal(RunsTestHost.ModelMaxTurns, script.Calls.Count);
        Assert.Equal("agent_turn_limit", (await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("error").GetProperty("reason_code").GetString());
    }

    [Fact]
    public async Task OverHttp_A429IsRetried_AndTheRequestIsAChatCompletionsCall()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var server = ScriptedModelHandler.Register((attempt, _) => attempt == 0
            ? ScriptedModelHandler.Json(HttpStatusCode.TooManyRequests, ChatCompletions.Error("slow down", "rate_limit_exceeded"), r => r.Headers.Add("Retry-After", "0"))
            : ScriptedModelHandler.Json(HttpStatusCode.OK, ChatCompletions.Response("test-model", "All done.")));
        var runId = await api.CreateRunAsync(server.CreateBody());

        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal("All done.", Value(events[^1]).GetProperty("output").GetProperty("answer").GetString());
        Assert.Equal(2, server.Requests.Count);
        var request = server.Requests[1];
        Assert.Equal(("POST", "/v1/chat/completions", "Bearer test-key"), (request.Method, request.Path, request.Authorization));
        Assert.Equal("test-model", request.Body.GetProperty("model").GetString());
        var tools = request.Body.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("function").GetProperty("name").GetString()).ToList();
        Assert.Contains("ask_human", tools);
        Assert.Contains("send_email", tools);
        Assert.Equal("system", request.Body.GetProperty("messages")[0].GetProperty("role").GetString());
    }

    [Fact]
    public async Task OverHttp_APersistent500_EndsTheRunFailedWithAgentError()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var server = ScriptedModelHandler.Register((_, _) => ScriptedModelHandler.Json(HttpStatusCode.InternalServerError, ChatCompletions.Error("boom")));
        var runId = await api.CreateRunAsync(server.CreateBody());

        var events = await api.WaitForEndAsync(runId);

        var failed = Value(events[^1]);
        Assert.Equal(("run.worker.failed", "agent_error"), (Type(events[^1]), failed.GetProperty("reason_code").GetString()));
        Assert.Contains("HTTP 500", failed.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(4, server.Requests.Count); // the first attempt and 3 retries (ModelAgent:MaxRetries in the test host)
    }

    [Fact]
    public async Task TheModelAgent_IsChosenByName_AndUnknownAgentsAre400()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var script = ScriptedChatClient.Register(ModelScript.Turns(Reply.Text("Nothing to do.")));

        var created = await api.PostAsync("/v1/runs", script.CreateBody());
        var unknown = await api.PostAsync("/v1/runs", """{"input":{"goal":"g"},"agent":"gpt-5"}""");

        Assert.Equal(201, created.Status);
        Assert.Equal("model", created.Json.GetProperty("agent").GetString());
        Assert.Equal((400, "agent_not_available"), (unknown.Status, unknown.ReasonCode));
        var events = await api.WaitForEndAsync(created.Json.GetProperty("id").GetString()!);
        Assert.Equal("model", Value(events[0]).GetProperty("agent").GetString());
        Assert.Equal("Nothing to do.", Value(events[^1]).GetProperty("output").GetProperty("answer").GetString());
    }

    private static async Task<(int, string?)> StatusAsync(Task<ApiResponse> response)
    {
        var r = await response;
        return (r.Status, r.ReasonCode);
    }
}

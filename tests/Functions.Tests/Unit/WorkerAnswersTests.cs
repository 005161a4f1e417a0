using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>An HTTP worker's answers: the scripted plan's step shapes and <c>wait</c>, and what is refused (and how it is said).</summary>
public sealed class WorkerAnswersTests
{
    private const int MaxTimeout = 604_800;

    [Fact]
    public void Work_WithItsFields_IsAWorkDecision()
    {
        var decision = Parse("""{"type":"work","tool":"draft_email","summary":"Drafted it.","duration_seconds":90}""");

        Assert.Equal(AgentDecisionKind.Work, decision.Kind);
        Assert.Equal(("draft_email", "Drafted it.", 90), (decision.Tool, decision.Summary, decision.WorkSeconds));
    }

    [Fact]
    public void Work_WithoutFields_GetsThePlansDefaults()
    {
        var decision = Parse("""{"type":"work"}""");

        Assert.Equal(("work", "Did some work.", 0), (decision.Tool, decision.Summary, decision.WorkSeconds));
    }

    [Fact]
    public void Approval_CarriesEveryRequestField_AsAPlanStepDoes()
    {
        var decision = Parse("""
            {"type":"approval","prompt":"Send it?","action":{"tool":"send_email","arguments":{"to":"a@example.com"}},
             "allowed_actions":["approve","reject","approve"],"allow_edits":true,"timeout_seconds":600,"reminders":[60,300],
             "response_schema":{"type":"object","properties":{"to":{"type":"string"}}}}
            """);

        Assert.Equal(AgentDecisionKind.AskHuman, decision.Kind);
        var request = decision.Request!;
        Assert.Equal(InputKinds.Approval, request.InputKind);
        Assert.Equal("Send it?", request.Prompt);
        Assert.Equal("""{"tool":"send_email","arguments":{"to":"a@example.com"}}""", request.ProposedActionJson);
        Assert.Equal(["approve", "reject"], request.AllowedActions);
        Assert.True(request.AllowEdits);
        Assert.Equal(600, request.TimeoutSeconds);
        Assert.Equal([300, 60], request.Reminders);
        Assert.Contains("\"properties\"", request.ResponseSchemaJson, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("clarification", "Please clarify the request.")]
    [InlineData("data", "Please provide the missing data.")]
    public void ClarificationAndData_AreRequestsOfTheirKind(string type, string defaultPrompt)
    {
        var decision = Parse($$"""{"type":"{{type}}"}""");

        Assert.Equal(type, decision.Request!.InputKind);
        Assert.Equal(defaultPrompt, decision.Request.Prompt);
    }

    [Fact]
    public void Finish_KeepsTheOutputAsSent_AndWithoutOneIsAnEmptyObject()
    {
        Assert.Equal("""{"sent": true, "n":[1,2]}""", Parse("""{"type":"finish","output":{"sent": true, "n":[1,2]}}""").OutputJson);
        Assert.Equal("\"just text\"", Parse("""{"type":"finish","output":"just text"}""").OutputJson);
        Assert.Equal("{}", Parse("""{"type":"finish"}""").OutputJson);
    }

    [Fact]
    public void Fail_CarriesItsReasonAndCode_OrTheDefaults()
    {
        var own = Parse("""{"type":"fail","reason":"The mailbox is full.","reason_code":"mailbox_full"}""");
        var plain = Parse("""{"type":"fail"}""");

        Assert.Equal((AgentDecisionKind.Fail, "mailbox_full", "The mailbox is full."), (own.Kind, own.ReasonCode, own.Reason));
        Assert.Equal(RunReasonCodes.AgentFailed, plain.ReasonCode);
    }

    [Fact]
    public void AFailReasonLongerThanARunKeeps_IsCut()
    {
        var decision = Parse($$"""{"type":"fail","reason":"{{new string('r', 10_000)}}"}""");

        Assert.Equal(RunLimits.MaxReasonChars, decision.Reason!.Length);
        Assert.EndsWith("…", decision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3600)]
    public void Wait_IsAWaitDecision(int seconds)
    {
        var decision = Parse($$"""{"type":"wait","seconds":{{seconds}}}""");

        Assert.Equal((AgentDecisionKind.Wait, seconds), (decision.Kind, decision.WorkSeconds));
    }

    [Fact]
    public void AFinishWhoseOutputIsLargerThanARunHolds_EndsTheRunWithOutputTooLarge()
    {
        var decision = Parse($$"""{"type":"finish","output":"{{new string('x', RunLimits.MaxOutputChars)}}"}""");

        Assert.Equal(AgentDecisionKind.Fail, decision.Kind);
        Assert.Equal(RunReasonCodes.OutputTooLarge, decision.ReasonCode);
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "", "it is empty" },
        { "   \n ", "it is empty" },
        { "<html><body>Bad gateway</body></html>", "it is not JSON (line 1, byte 1)" },
        { """{"type":"finish",}""", "it is not JSON" },
        { """{"type":"finish","type":"fail"}""", "repeats a member" },
        { new string('[', 40) + new string(']', 40), "nests deeper than 32 levels" },
        { "null", "it is a JSON null, not an object with a type." },
        { """["finish"]""", "it is a JSON array, not an object with a type." },
        { "\"finish\"", "it is a JSON string, not an object with a type." },
        { "{}", "type is required: one of work, approval, clarification, data, finish, fail, wait." },
        { """{"type":null}""", "type is required" },
        { """{"type":7}""", "type must be one of" },
        { """{"type":"Finish"}""", "type must be one of" },
        { """{"type":"done","output":{}}""", "type must be one of" },
        { """{"type":"finish","outptu":{}}""", "a finish answer has no member 'outptu' (it takes type, output)." },
        { """{"type":"work","seconds":5}""", "a work answer has no member 'seconds'" },
        { """{"type":"wait","duration_seconds":5}""", "a wait answer has no member 'duration_seconds'" },
        { """{"type":"wait"}""", "a wait answer needs seconds: an integer from 1 to 3600." },
        { """{"type":"wait","seconds":0}""", "a wait answer needs seconds" },
        { """{"type":"wait","seconds":3601}""", "a wait answer needs seconds" },
        { """{"type":"wait","seconds":1.5}""", "a wait answer needs seconds" },
        { """{"type":"wait","seconds":"10"}""", "a wait answer needs seconds" },
        { """{"type":"work","duration_seconds":-1}""", "duration_seconds must be an integer from 0 to 3600." },
        { """{"type":"work","tool":42}""", "tool must be a string." },
        { """{"type":"work","tool":""}""", "tool must not be empty." },
        { $$"""{"type":"work","tool":"{{new string('t', 101)}}"}""", "tool must be at most 100 characters." },
        { $$"""{"type":"work","summary":"{{new string('s', 4097)}}"}""", "summary must be at most 4096 characters." },
        { """{"type":"approval","prompt":["Send?"]}""", "prompt must be a string." },
        { $$"""{"type":"approval","prompt":"{{new string('p', 8193)}}"}""", "prompt must be at most 8192 characters." },
        { """{"type":"approval","action":"send the email"}""", "action must be an object." },
        { "{\"type\":\"approval\",\"action\":{\"body\":\"" + new string('b', 33_000) + "\"}}", "action must be at most 32768 characters of JSON." },
        { """{"type":"approval","allow_edits":"yes"}""", "allow_edits must be true or false." },
        { """{"type":"data","allow_edits":true}""", "allow_edits applies to approval requests only." },
        { """{"type":"approval","allowed_actions":[]}""", "allowed_actions must be a non-empty array." },
        { """{"type":"approval","allowed_actions":["approve","cancel"]}""", "allowed_actions may hold only approve, reject and submit_input." },
        { """{"type":"data","timeout_seconds":0}""", "timeout_seconds must be an integer from 1 to 604800." },
        { """{"type":"data","reminders":[0]}""", "each reminder must be an integer from 1 to 604800" },
        { """{"type":"data","response_schema":{"$ref":"https://evil.example/s.json"}}""", "response_schema is not a valid JSON Schema" },
        { """{"type":"data","response_schema":"object"}""", "response_schema" },
        { """{"type":"fail","reason_code":"Mailbox Full"}""", "reason_code must be 1 to 64 lowercase letters, digits and '_', starting with a letter." },
        { """{"type":"fail","reason_code":""}""", "reason_code must be 1 to 64" },
        { """{"type":"fail","reason_code":"signal_timeout"}""", "reason_code 'signal_timeout' is the service's own" },
        { """{"type":"fail","reason_code":"rejected"}""", "reason_code 'rejected' is the service's own" },
        { """{"type":"fail","reason_code":"engine_error"}""", "reason_code 'engine_error' is the service's own" },
        { """{"type":"fail","reason":false}""", "reason must be a string." },
        { """{"type":"finish","output":"\ud800"}""", "a string in it is not text (a lone surrogate escape)." },
        { """{"type":"finish","\ud800":1}""", "not text" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void AMalformedAnswer_IsRefused_WithWhatIsWrong(string answer, string what)
    {
        Assert.False(WorkerAnswers.TryParse(answer, MaxTimeout, out var decision, out var error));

        Assert.Null(decision);
        Assert.Contains(what, error, StringComparison.Ordinal);
    }

    [Fact]
    public void WhatIsWrong_NeverQuotesTheAnswersValues()
    {
        // A worker may put secrets in any value; the failure reason is shown to every reader of the run.
        foreach (var answer in new[]
        {
            """{"type":"approval","allow_edits":"hunter2-secret"}""",
            """{"type":"hunter2-secret"}""",
            """{"type":"wait","seconds":"hunter2-secret"}""",
            """{"type":"fail","reason_code":"hunter2-secret"}""",
            """{"type":"finish","output":"hunter2-secret",}""",
        })
        {
            Assert.False(WorkerAnswers.TryParse(answer, MaxTimeout, out _, out var error));
            Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("agent_failed")]
    [InlineData("mailbox_full")]
    public void AFailure_MayUseTheAgentsCodeOrItsOwn(string code)
    {
        var decision = Parse($$"""{"type":"fail","reason":"No luck.","reason_code":"{{code}}"}""");

        Assert.Equal((AgentDecisionKind.Fail, code), (decision.Kind, decision.ReasonCode));
    }

    private static AgentDecision Parse(string answer)
    {
        Assert.True(WorkerAnswers.TryParse(answer, MaxTimeout, out var decision, out var error), error);
        return decision!;
    }
}

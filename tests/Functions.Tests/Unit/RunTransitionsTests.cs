using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>The run's state machine, without storage: every transition as a function of the record, the command and the time.</summary>
public sealed class RunTransitionsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 26, 14, 35, 1, TimeSpan.Zero);
    private static readonly Actor Operator = new("key_0123456789abcdef", "ops");

    [Fact]
    public void Create_IsQueued_WithRunCreatedAsSeq1_CarryingInputAndMetadataVerbatim()
    {
        var input = """{"goal":"é <b>&amp;</b> \u00e9 \"q\""}""";
        var created = RunTransitions.Create("t", "run_x", input, """{"k":"v"}""", 60, T0);

        Assert.Equal(RunStatus.Queued, created.Outcome.Status);
        Assert.Equal(1, created.Outcome.LastEventSeq);
        var e = Assert.Single(created.Events!);
        Assert.Equal((1L, RunEventTypes.Created), (e.Seq, e.Type));
        Assert.Equal("""{"input":""" + input + ""","metadata":{"k":"v"},"agent":"scripted"}""", e.ValueJson);
    }

    [Fact]
    public void OrchestrationWrites_AppendAfterTheLogsEnd_AndAreAppliedOnce()
    {
        var run = Queued();
        var start = RunTransitions.Apply(run, new RunWrite(1, RunWriteKind.Start), T0);
        Assert.Equal(WriteOutcome.Applied, start.Outcome);
        Assert.Equal(RunStatus.Running, start.Next!.Status);
        Assert.Equal([2L], start.Events!.Select(e => e.Seq));

        var again = RunTransitions.Apply(start.Next, new RunWrite(1, RunWriteKind.Start), T0);
        Assert.Equal(WriteOutcome.Applied, again.Outcome);
        Assert.False(again.Writes);

        var progress = RunTransitions.Apply(start.Next, new RunWrite(2, RunWriteKind.Progress, Step: 1, Tool: "draft", Summary: "<drafted>"), T0);
        Assert.Equal(3, progress.Next!.LastEventSeq);
        Assert.Equal("""{"step":1,"tool":"draft","summary":"<drafted>"}""", Assert.Single(progress.Events!).ValueJson);
    }

    [Fact]
    public void ACancel_RecordsTheUsersReason_OrSaysCancelledByTheUser_WhenThereIsNone()
    {
        var withReason = RunTransitions.Cancel(Running(), Operator, T0, reason: "wrong list").Next!;
        var without = RunTransitions.Cancel(Running(), Operator, T0);

        Assert.Equal((RunReasonCodes.CancelledByUser, "wrong list"), (withReason.Error!.ReasonCode, withReason.Error.Reason));
        Assert.Equal("Cancelled by the user.", without.Next!.Error!.Reason);
        var value = JsonDocument.Parse(Assert.Single(without.Events!).ValueJson).RootElement;
        Assert.False(value.TryGetProperty("reason", out _), "no reason given, none on the event");
    }

    [Fact]
    public void AWriteAfterTheRunEnded_IsRefused_AndOpensNoRequest()
    {
        var cancelled = RunTransitions.Cancel(Running(), Operator, T0).Next!;
        var open = RunTransitions.Apply(cancelled, new RunWrite(5, RunWriteKind.OpenRequest, Request: Request("r1", T0.AddMinutes(1))), T0);

        Assert.Equal(WriteOutcome.Ended, open.Outcome);
        Assert.False(open.Writes);
    }

    [Fact]
    public void AcceptSignal_MovesToRunning_RecordsTheAnswerAndWhoGaveIt_AndAppendsSignalReceived()
    {
        var waiting = Waiting("r1", T0.AddMinutes(1));
        var command = new SignalCommand(SignalActions.SubmitInput, null, """{"password":"x","to":"a"}""", """{"password":"[REDACTED]","to":"a"}""", true, Operator, "idem-1");

        var accepted = RunTransitions.AcceptSignal(waiting, command, T0.AddSeconds(5));

        Assert.Equal(SignalVerdict.Accepted, accepted.Outcome.Verdict);
        var next = accepted.Next!;
        Assert.Equal(RunStatus.Running, next.Status);
        Assert.Null(next.Pending);
        Assert.Equal(("r1", """{"password":"x","to":"a"}""", false), (next.LastAnswer!.RequestId, next.LastAnswer.PayloadJson, next.LastAnswer.Consumed));
        var e = Assert.Single(accepted.Events!);
        Assert.Equal(RunEventTypes.SignalReceived, e.Type);
        Assert.True(e.Redacted);
        Assert.Equal(waiting.LastEventSeq + 1, e.Seq);
        using var value = JsonDocument.Parse(e.ValueJson);
        Assert.Equal("[REDACTED]", value.RootElement.GetProperty("payload").GetProperty("password").GetString());
        Assert.Equal("ops", value.RootElement.GetProperty("actor").GetProperty("name").GetString());
    }

    [Fact]
    public void ASecondSignal_IsNotAwaitingInput_ButTheSameRequestRetried_IsReplayed()
    {
        var first = RunTransitions.AcceptSignal(Waiting("r1", T0.AddMinutes(1)), Signal(SignalActions.Approve, key: "k1"), T0).Next!;

        Assert.Equal(SignalVerdict.NotAwaitingInput, RunTransitions.AcceptSignal(first, Signal(SignalActions.Approve, key: "k2"), T0).Outcome.Verdict);
        Assert.Equal(SignalVerdict.NotAwaitingInput, RunTransitions.AcceptSignal(first, Signal(SignalActions.Approve), T0).Outcome.Verdict);
        var replay = RunTransitions.AcceptSignal(first, Signal(SignalActions.Approve, key: "k1"), T0.AddMinutes(10));
        Assert.Equal(SignalVerdict.Replayed, replay.Outcome.Verdict);
        Assert.Equal(T0, replay.Outcome.Answer!.AcceptedAt);
        Assert.False(replay.Writes);
    }

    [Fact]
    public void ASignalAtOrAfterExpiresAt_IsRefused_WhateverTheTimerDoes()
    {
        var waiting = Waiting("r1", T0.AddSeconds(10));

        Assert.Equal(SignalVerdict.Accepted, RunTransitions.AcceptSignal(waiting, Signal(SignalActions.Approve), T0.AddSeconds(9.999)).Outcome.Verdict);
        var late = RunTransitions.AcceptSignal(waiting, Signal(SignalActions.Approve), T0.AddSeconds(10));
        Assert.Equal(SignalVerdict.NotAwaitingInput, late.Outcome.Verdict);
        Assert.Contains("expired", late.Outcome.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ASignalForAnotherRequest_OrAnActionNotAllowed_IsRefused()
    {
        var waiting = Waiting("r1", T0.AddMinutes(1), [SignalActions.Approve, SignalActions.Reject]);

        Assert.Equal(SignalVerdict.NotAwaitingInput, RunTransitions.AcceptSignal(waiting, Signal(SignalActions.Approve, requestId: "r0"), T0).Outcome.Verdict);
        var notAllowed = RunTransitions.AcceptSignal(waiting, Signal(SignalActions.SubmitInput), T0);
        Assert.Equal(SignalVerdict.ActionNotAllowed, notAllowed.Outcome.Verdict);
        Assert.Equal([SignalActions.Approve, SignalActions.Reject], notAllowed.Outcome.AllowedActions);
        Assert.Equal(SignalVerdict.NotFound, RunTransitions.AcceptSignal(null, Signal(SignalActions.Approve), T0).Outcome.Verdict);
    }

    [Fact]
    public void Expire_BeforeTheDeadline_IsNotYet_AtIt_Cancels_AndAfterAnAnswer_ReturnsTheAnswer()
    {
        var waiting = Waiting("r1", T0.AddSeconds(10));

        var early = RunTransitions.Expire(waiting, "r1", T0.AddSeconds(9.1));
        Assert.Equal((ExpireVerdict.NotYet, (DateTimeOffset?)T0.AddSeconds(10)), (early.Outcome.Verdict, early.Outcome.ExpiresAt));
        Assert.False(early.Writes);

        var expired = RunTransitions.Expire(waiting, "r1", T0.AddSeconds(10));
        Assert.Equal(ExpireVerdict.Expired, expired.Outcome.Verdict);
        Assert.Equal((RunStatus.Cancelled, RunReasonCodes.SignalTimeout), (expired.Next!.Status, expired.Next.Error!.ReasonCode));
        Assert.Equal(RunEventTypes.Cancelled, Assert.Single(expired.Events!).Type);
        Assert.Equal(ExpireVerdict.Expired, RunTransitions.Expire(expired.Next, "r1", T0.AddSeconds(11)).Outcome.Verdict);

        var answered = RunTransitions.AcceptSignal(waiting, Signal(SignalActions.Approve), T0.AddSeconds(9)).Next!;
        var late = RunTransitions.Expire(answered, "r1", T0.AddSeconds(10));
        Assert.Equal(ExpireVerdict.Answered, late.Outcome.Verdict);
        Assert.Equal(SignalActions.Approve, late.Outcome.Answer!.Action);
        Assert.False(late.Writes);
    }

    [Fact]
    public void Cancel_EndsTheRunAtOnce_WithWhoCancelled_AndAnEndedRunIsNotCancellable()
    {
        var cancel = RunTransitions.Cancel(Waiting("r1", T0.AddMinutes(1)), Operator, T0);

        Assert.Equal(CancelOutcome.Accepted, cancel.Outcome);
        Assert.Equal(RunStatus.Cancelled, cancel.Next!.Status);
        Assert.Null(cancel.Next.Pending);
        Assert.Contains("\"key_id\":\"key_0123456789abcdef\"", Assert.Single(cancel.Events!).ValueJson, StringComparison.Ordinal);
        Assert.Equal(CancelOutcome.NotCancellable, RunTransitions.Cancel(cancel.Next, Operator, T0).Outcome);
        Assert.Equal(ExpireVerdict.Ended, RunTransitions.Expire(cancel.Next, "r1", T0.AddHours(1)).Outcome.Verdict);
    }

    [Fact]
    public void ACancelWhoseWriteLandedButWasRetried_IsAcceptedAgain_AnotherCancelIsNot()
    {
        var cancelled = RunTransitions.Cancel(Running(), Operator, T0, attempt: "a1").Next!;

        Assert.Equal(CancelOutcome.Accepted, RunTransitions.Cancel(cancelled, Operator, T0, attempt: "a1").Outcome);
        Assert.Equal(CancelOutcome.NotCancellable, RunTransitions.Cancel(cancelled, Operator, T0, attempt: "a2").Outcome);
        Assert.False(RunTransitions.Cancel(cancelled, Operator, T0, attempt: "a1").Writes);
    }

    [Fact]
    public void TheOrchestrationsNextWrite_DropsTheConsumedAnswersPayload_ButKeepsWhoAnswered()
    {
        var answered = RunTransitions.AcceptSignal(Waiting("r1", T0.AddMinutes(1)), Signal(SignalActions.SubmitInput, payload: """{"a":1}"""), T0).Next!;

        var next = RunTransitions.Apply(answered, new RunWrite(answered.AppliedWrites + 1, RunWriteKind.Progress, Step: 2), T0).Next!;

        Assert.True(next.LastAnswer!.Consumed);
        Assert.Null(next.LastAnswer.PayloadJson);
        Assert.Equal(Operator, next.LastAnswer.Actor);
    }

    [Fact]
    public void AnOutputLargerThanTheLimit_EndsTheRunFailedWithOutputTooLarge()
    {
        var output = "\"" + new string('x', RunLimits.MaxOutputChars) + "\"";

        var done = RunTransitions.Apply(Running(), new RunWrite(9, RunWriteKind.Complete, Ending: RunEnding.Succeeded(output)), T0);

        Assert.Equal(RunStatus.Failed, done.Next!.Status);
        Assert.Equal(RunReasonCodes.OutputTooLarge, done.Next.Error!.ReasonCode);
        Assert.Equal(RunEventTypes.Failed, Assert.Single(done.Events!).Type);
    }

    [Fact]
    public void FailForEngine_EndsAnUnfinishedRun_AndLeavesAnEndedOneAlone()
    {
        var failed = RunTransitions.FailForEngine(Waiting("r1", T0.AddMinutes(1)), "orchestration Failed", T0);
        Assert.True(failed.Outcome);
        Assert.Equal((RunStatus.Failed, RunReasonCodes.EngineError), (failed.Next!.Status, failed.Next.Error!.ReasonCode));
        Assert.Equal(RunEventTypes.Failed, Assert.Single(failed.Events!).Type);

        var again = RunTransitions.FailForEngine(failed.Next, "again", T0);
        Assert.False(again.Outcome);
        Assert.False(again.Writes);
    }

    [Fact]
    public void AReasonLongerThanTheLimit_IsCutWithoutSplittingASurrogatePair()
    {
        var reason = new string('a', RunLimits.MaxReasonChars - 2) + "😀😀";

        var cut = RunLimits.Reason(reason);

        Assert.True(cut.Length <= RunLimits.MaxReasonChars);
        Assert.False(char.IsHighSurrogate(cut[^2]));
        Assert.EndsWith("…", cut, StringComparison.Ordinal);
    }

    private static SignalCommand Signal(string action, string? requestId = null, string? payload = null, string? key = null) =>
        new(action, requestId, payload, payload, false, Operator, key);

    private static PendingRequest Request(string id, DateTimeOffset expiresAt, IReadOnlyList<string>? allowed = null) =>
        new(id, InputKinds.Approval, "Send it?", allowed ?? SignalActions.All, expiresAt, """{"tool":"send"}""");

    private static RunRecord Queued() => RunTransitions.Create("t", "run_x", """{"goal":"g"}""", null, 60, T0).Outcome;

    private static RunRecord Running() => RunTransitions.Apply(Queued(), new RunWrite(1, RunWriteKind.Start), T0).Next!;

    private static RunRecord Waiting(string requestId, DateTimeOffset expiresAt, IReadOnlyList<string>? allowed = null) =>
        RunTransitions.Apply(Running(), new RunWrite(2, RunWriteKind.OpenRequest, Request: Request(requestId, expiresAt, allowed)), T0).Next!;
}

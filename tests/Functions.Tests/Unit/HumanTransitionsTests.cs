using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>Typed answers, edits, reminders and extensions in the state machine, without storage.</summary>
public sealed class HumanTransitionsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 26, 14, 35, 1, TimeSpan.Zero);
    private static readonly Actor Operator = new("key_0123456789abcdef", "Dana (ops)");
    private const string Schema = """{"type":"object","required":["to"],"properties":{"to":{"type":"string","pattern":"^[a-z]+@[a-z.]+$"},"n":{"type":"integer"}},"additionalProperties":false}""";

    [Fact]
    public void APayloadThatFailsTheSchema_Is422_WithTheFailingPointers_AndWritesNothing()
    {
        var waiting = Waiting(Request(InputKinds.Data, schema: Schema));

        var outcome = RunTransitions.AcceptSignal(waiting, Submit("""{"to":"NOT AN ADDRESS","n":"two","extra":1}"""), T0);

        Assert.Equal(SignalVerdict.InvalidPayload, outcome.Outcome.Verdict);
        Assert.Equal(422, outcome.Outcome.Status);
        Assert.False(outcome.Writes);
        var pointers = outcome.Outcome.Errors!.Select(e => e.Pointer).ToList();
        Assert.Contains("/to", pointers);
        Assert.Contains("/n", pointers);
    }

    [Fact]
    public void APayloadThatFitsTheSchema_IsAccepted()
    {
        var outcome = RunTransitions.AcceptSignal(Waiting(Request(InputKinds.Data, schema: Schema)), Submit("""{"to":"leads@example.com","n":2}"""), T0);

        Assert.Equal(SignalVerdict.Accepted, outcome.Outcome.Verdict);
    }

    [Fact]
    public void EditsOnARequestThatDoesNotAllowThem_Are400()
    {
        var outcome = RunTransitions.AcceptSignal(Waiting(Request(InputKinds.Approval)), Approve("""{"arguments":{"to":"b@x.y"}}"""), T0);

        Assert.Equal((SignalVerdict.InvalidPayload, 400), (outcome.Outcome.Verdict, outcome.Outcome.Status));
    }

    [Fact]
    public void EditsOfARequestThatProposesNoAction_Are400_NotAnApprovedActionWithoutATool()
    {
        var waiting = Waiting(Request(InputKinds.Approval, edits: true) with { ProposedActionJson = null });

        var outcome = RunTransitions.AcceptSignal(waiting, Approve("""{"arguments":{"to":"b@x.y"}}"""), T0);

        Assert.Equal((SignalVerdict.InvalidPayload, 400), (outcome.Outcome.Verdict, outcome.Outcome.Status));
        Assert.False(outcome.Writes);
        Assert.Equal(SignalVerdict.Accepted, RunTransitions.AcceptSignal(waiting, Approve(null), T0).Outcome.Verdict);
    }

    [Fact]
    public void EditsWhoseArgumentsAreNull_Are400_NotArgumentsReplacedByNull()
    {
        var outcome = RunTransitions.AcceptSignal(Waiting(Request(InputKinds.Approval, edits: true)), Approve("""{"arguments":null}"""), T0);

        Assert.Equal((SignalVerdict.InvalidPayload, 400), (outcome.Outcome.Verdict, outcome.Outcome.Status));
        Assert.False(outcome.Writes);
    }

    [Fact]
    public void AnApproveWithEdits_ReplacesTheArguments_IsCheckedAgainstTheSchema_AndRecordsBoth()
    {
        var waiting = Waiting(Request(InputKinds.Approval, schema: Schema, edits: true));

        var bad = RunTransitions.AcceptSignal(waiting, Approve("""{"arguments":{"to":"NOPE"}}"""), T0);
        Assert.Equal((SignalVerdict.InvalidPayload, 422), (bad.Outcome.Verdict, bad.Outcome.Status));
        Assert.Equal("/to", Assert.Single(bad.Outcome.Errors!).Pointer);

        var good = RunTransitions.AcceptSignal(waiting, Approve("""{"arguments":{"to":"b@x.y"}}"""), T0);
        Assert.Equal("""{"tool":"send","arguments":{"to":"b@x.y"}}""", good.Outcome.Answer!.ApprovedActionJson);
        using var value = JsonDocument.Parse(Assert.Single(good.Events!).ValueJson);
        Assert.Equal("a@x.y", value.RootElement.GetProperty("proposed_arguments").GetProperty("to").GetString());
        Assert.Equal("b@x.y", value.RootElement.GetProperty("approved_arguments").GetProperty("to").GetString());
        Assert.True(value.RootElement.GetProperty("edited").GetBoolean());
    }

    [Fact]
    public void APlainApprove_ApprovesTheProposedActionAsItIs()
    {
        var good = RunTransitions.AcceptSignal(Waiting(Request(InputKinds.Approval, edits: true)), Approve(null), T0);

        Assert.Equal("""{"tool":"send","arguments":{"to":"a@x.y"}}""", good.Outcome.Answer!.ApprovedActionJson);
        using var value = JsonDocument.Parse(Assert.Single(good.Events!).ValueJson);
        Assert.False(value.RootElement.GetProperty("edited").GetBoolean());
    }

    [Fact]
    public void AReminder_IsWrittenOnceWhenDue_NeverAfterAnAnswerOrTheDeadline()
    {
        var waiting = Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(60), Reminders = [30] });

        Assert.Equal(RemindVerdict.NotYet, RunTransitions.Remind(waiting, "r1", 30, T0.AddSeconds(20)).Outcome.Verdict);
        var sent = RunTransitions.Remind(waiting, "r1", 30, T0.AddSeconds(30));
        Assert.Equal(RemindVerdict.Sent, sent.Outcome.Verdict);
        Assert.Equal(RunEventTypes.InputReminder, Assert.Single(sent.Events!).Type);
        var again = RunTransitions.Remind(sent.Next, "r1", 30, T0.AddSeconds(31));
        Assert.Equal(RemindVerdict.Sent, again.Outcome.Verdict);
        Assert.False(again.Writes);

        var answered = RunTransitions.AcceptSignal(waiting, Approve(null), T0.AddSeconds(10)).Next!;
        Assert.Equal(RemindVerdict.Gone, RunTransitions.Remind(answered, "r1", 30, T0.AddSeconds(30)).Outcome.Verdict);
        Assert.Equal(RemindVerdict.Gone, RunTransitions.Remind(waiting, "r1", 30, T0.AddSeconds(60)).Outcome.Verdict);
    }

    [Fact]
    public void Extend_MovesTheDeadline_StartsTheRemindersOver_AndMovesTheRequestsDeadlineInItsEvent()
    {
        var reminded = RunTransitions.Remind(
            Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(60), Reminders = [30] }), "r1", 30, T0.AddSeconds(30)).Next!;

        var extended = RunTransitions.Extend(reminded, "r1", new ExtendRequest(T0.AddSeconds(600), null), TimeSpan.FromDays(7), Operator, T0.AddSeconds(40));

        Assert.Equal(ExtendVerdict.Extended, extended.Outcome.Verdict);
        Assert.Equal((T0.AddSeconds(60), T0.AddSeconds(600)), (extended.Outcome.PreviousExpiresAt!.Value, extended.Outcome.ExpiresAt!.Value));
        Assert.Equal(T0.AddSeconds(600), extended.Next!.Pending!.ExpiresAt);
        Assert.Empty(extended.Next.RemindersSent);
        using var value = JsonDocument.Parse(Assert.Single(extended.Events!).ValueJson);
        Assert.Equal("Dana (ops)", value.RootElement.GetProperty("actor").GetProperty("name").GetString());
        Assert.Equal(ExpireVerdict.NotYet, RunTransitions.Expire(extended.Next, "r1", T0.AddSeconds(61)).Outcome.Verdict);
        Assert.Equal(SignalVerdict.Accepted, RunTransitions.AcceptSignal(extended.Next, Approve(null), T0.AddSeconds(61)).Outcome.Verdict);
    }

    [Fact]
    public void AnExpiredRequest_CannotBeExtended_AndAnExtendedOneCannotTimeOutAtItsOldDeadline()
    {
        var waiting = Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(10) });

        Assert.Equal(ExtendVerdict.NotAwaitingInput, RunTransitions.Extend(waiting, "r1", new ExtendRequest(T0.AddSeconds(100), null), TimeSpan.FromDays(1), Operator, T0.AddSeconds(10)).Outcome.Verdict);
        Assert.Equal(ExtendVerdict.Invalid, RunTransitions.Extend(waiting, "r1", new ExtendRequest(T0.AddSeconds(5), null), TimeSpan.FromDays(1), Operator, T0.AddSeconds(6)).Outcome.Verdict);
        Assert.Equal(ExtendVerdict.Invalid, RunTransitions.Extend(waiting, "r1", new ExtendRequest(T0.AddDays(2), null), TimeSpan.FromDays(1), Operator, T0).Outcome.Verdict);
        Assert.Equal(ExtendVerdict.NotAwaitingInput, RunTransitions.Extend(waiting, "r0", new ExtendRequest(T0.AddSeconds(100), null), TimeSpan.FromDays(1), Operator, T0).Outcome.Verdict);
        Assert.Equal(ExtendVerdict.NotFound, RunTransitions.Extend(null, "r1", new ExtendRequest(T0.AddSeconds(100), null), TimeSpan.FromDays(1), Operator, T0).Outcome.Verdict);
    }

    [Fact]
    public void ExtendBySeconds_CountsFromTheDeadlineTheDecisionSees_SoRacingExtendsAddUp_AndARetryOfOneThatLandedIsNotAppliedAgain()
    {
        var waiting = Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(60) });
        var by10 = new ExtendRequest(null, 10);

        var first = RunTransitions.Extend(waiting, "r1", by10, TimeSpan.FromDays(1), Operator, T0, attempt: "a");
        var second = RunTransitions.Extend(first.Next, "r1", by10, TimeSpan.FromDays(1), Operator, T0, attempt: "b"); // decided again after a 412
        var firstAgain = RunTransitions.Extend(second.Next, "r1", new ExtendRequest(null, 10), TimeSpan.FromDays(1), Operator, T0, attempt: "b");

        Assert.Equal(T0.AddSeconds(70), first.Next!.Pending!.ExpiresAt);
        Assert.Equal((T0.AddSeconds(70), T0.AddSeconds(80)), (second.Outcome.PreviousExpiresAt!.Value, second.Next!.Pending!.ExpiresAt));
        Assert.False(firstAgain.Writes); // "b" landed: its retry is told what it did
        Assert.Equal((ExtendVerdict.Extended, T0.AddSeconds(70), T0.AddSeconds(80)), (firstAgain.Outcome.Verdict, firstAgain.Outcome.PreviousExpiresAt!.Value, firstAgain.Outcome.ExpiresAt!.Value));
    }

    [Fact]
    public void ARetriedExtend_IsRecognised_EvenAfterOtherExtendsOfTheSameRequestLanded()
    {
        // "a" landed, its answer was lost; "b" landed; "a" is sent again (same attempt): it must be told what it did, not applied twice.
        var waiting = Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(60) });
        var by10 = new ExtendRequest(null, 10);

        var a = RunTransitions.Extend(waiting, "r1", by10, TimeSpan.FromDays(1), Operator, T0, attempt: "a");
        var b = RunTransitions.Extend(a.Next, "r1", new ExtendRequest(null, 30), TimeSpan.FromDays(1), Operator, T0, attempt: "b");
        var aAgain = RunTransitions.Extend(b.Next, "r1", by10, TimeSpan.FromDays(1), Operator, T0.AddSeconds(1), attempt: "a");

        Assert.False(aAgain.Writes);
        Assert.Equal(
            (ExtendVerdict.Extended, T0.AddSeconds(60), T0.AddSeconds(70)),
            (aAgain.Outcome.Verdict, aAgain.Outcome.PreviousExpiresAt!.Value, aAgain.Outcome.ExpiresAt!.Value));
        Assert.Equal(T0.AddSeconds(100), b.Next!.Pending!.ExpiresAt);
    }

    [Fact]
    public void ARequestsDeadlineMovesAtMost50Times_ThenExtendsAre409_ButRetriesOfOnesThatLandedAreStillAnswered()
    {
        var run = Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(60) });
        for (var i = 0; i < RunLimits.MaxExtendsPerRequest; i++)
        {
            run = RunTransitions.Extend(run, "r1", new ExtendRequest(null, 1), TimeSpan.FromDays(1), Operator, T0, attempt: $"a{i}").Next!;
        }

        var oneMore = RunTransitions.Extend(run, "r1", new ExtendRequest(null, 1), TimeSpan.FromDays(1), Operator, T0, attempt: "last");
        var retryOfTheFirst = RunTransitions.Extend(run, "r1", new ExtendRequest(null, 1), TimeSpan.FromDays(1), Operator, T0, attempt: "a0");
        var sameDeadline = RunTransitions.Extend(run, "r1", new ExtendRequest(run.Pending!.ExpiresAt, null), TimeSpan.FromDays(1), Operator, T0, attempt: "same");

        Assert.Equal((ExtendVerdict.LimitReached, false), (oneMore.Outcome.Verdict, oneMore.Writes));
        Assert.Equal(T0.AddSeconds(60 + RunLimits.MaxExtendsPerRequest), run.Pending!.ExpiresAt);
        Assert.Equal((ExtendVerdict.Extended, T0.AddSeconds(60), T0.AddSeconds(61)), (retryOfTheFirst.Outcome.Verdict, retryOfTheFirst.Outcome.PreviousExpiresAt!.Value, retryOfTheFirst.Outcome.ExpiresAt!.Value));
        Assert.Equal((ExtendVerdict.Extended, false), (sameDeadline.Outcome.Verdict, sameDeadline.Writes));
        Assert.True(Storage.RunRows.ToEntity(run).GetString("Extends").Length < 4096); // compact: a hash and two deadlines per extend
    }

    [Fact]
    public void ARetriedExtend_ThatLandedBeforeTheRequestWasAnswered_IsToldWhatItDid_AndANewRequestStartsAFreshCount()
    {
        var waiting = Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(60) });
        var extended = RunTransitions.Extend(waiting, "r1", new ExtendRequest(null, 10), TimeSpan.FromDays(1), Operator, T0, attempt: "a").Next!;
        var answered = RunTransitions.AcceptSignal(extended, Approve(null), T0.AddSeconds(1)).Next!;

        var retry = RunTransitions.Extend(answered, "r1", new ExtendRequest(null, 10), TimeSpan.FromDays(1), Operator, T0.AddSeconds(2), attempt: "a");
        var other = RunTransitions.Extend(answered, "r1", new ExtendRequest(null, 10), TimeSpan.FromDays(1), Operator, T0.AddSeconds(2), attempt: "b");
        var next = RunTransitions.Apply(answered, new RunWrite(3, RunWriteKind.OpenRequest, Request: Request(InputKinds.Approval) with { RequestId = "r2" }), T0.AddSeconds(3)).Next!;

        Assert.Equal((ExtendVerdict.Extended, false), (retry.Outcome.Verdict, retry.Writes));
        Assert.Equal((T0.AddSeconds(60), T0.AddSeconds(70), (DateTimeOffset?)null), (retry.Outcome.PreviousExpiresAt!.Value, retry.Outcome.ExpiresAt!.Value, retry.Outcome.PendingExpiresAt));
        Assert.Equal(ExtendVerdict.NotAwaitingInput, other.Outcome.Verdict);
        Assert.Null(next.Extends);
    }

    [Fact]
    public void ARowWrittenWhenOnlyTheLastExtendWasKept_ReadsAsThatExtend()
    {
        var waiting = Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(70) });
        var entity = Storage.RunRows.ToEntity(waiting);
        entity["ExtendAttempt"] = "old-attempt";
        entity["ExtendedFrom"] = T0.AddSeconds(60);

        var read = Storage.RunRows.ToRecord(entity);
        var retry = RunTransitions.Extend(read, "r1", new ExtendRequest(null, 10), TimeSpan.FromDays(1), Operator, T0, attempt: "old-attempt");

        Assert.Equal((ExtendVerdict.Extended, false), (retry.Outcome.Verdict, retry.Writes));
        Assert.Equal((T0.AddSeconds(60), T0.AddSeconds(70)), (retry.Outcome.PreviousExpiresAt!.Value, retry.Outcome.ExpiresAt!.Value));
    }

    [Fact]
    public void ADeadlineGivenOutright_MayNotBeEarlierThanTheCurrentOne_AndTheSameOneIsANoOp()
    {
        var waiting = Waiting(Request(InputKinds.Approval) with { ExpiresAt = T0.AddSeconds(600) });

        var earlier = RunTransitions.Extend(waiting, "r1", new ExtendRequest(T0.AddSeconds(300), null), TimeSpan.FromDays(1), Operator, T0, attempt: "a");
        var same = RunTransitions.Extend(waiting, "r1", new ExtendRequest(T0.AddSeconds(600), null), TimeSpan.FromDays(1), Operator, T0, attempt: "b");

        Assert.Equal(ExtendVerdict.Invalid, earlier.Outcome.Verdict);
        Assert.Contains("can only be extended", earlier.Outcome.Detail, StringComparison.Ordinal);
        Assert.False(earlier.Writes);
        Assert.Equal(ExtendVerdict.Extended, same.Outcome.Verdict);
        Assert.False(same.Writes);
    }

    private static SignalCommand Submit(string payload) => new(SignalActions.SubmitInput, null, payload, payload, false, Operator, null);

    private static SignalCommand Approve(string? payload) => new(SignalActions.Approve, null, payload, payload, false, Operator, null);

    private static PendingRequest Request(string kind, string? schema = null, bool edits = false) =>
        new("r1", kind, "?", kind == InputKinds.Approval ? SignalActions.All : [SignalActions.SubmitInput, SignalActions.Reject],
            T0.AddMinutes(5), """{"tool":"send","arguments":{"to":"a@x.y"}}""", schema, edits, 300, []);

    private static RunRecord Waiting(PendingRequest request)
    {
        var run = RunTransitions.Create("t", "run_x", """{"goal":"g"}""", null, 60, T0).Outcome;
        run = RunTransitions.Apply(run, new RunWrite(1, RunWriteKind.Start), T0).Next!;
        return RunTransitions.Apply(run, new RunWrite(2, RunWriteKind.OpenRequest, Request: request), T0).Next!;
    }
}

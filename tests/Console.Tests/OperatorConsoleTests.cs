using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.Console.Tests.Support;
using AgentRuns.EndToEnd.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace AgentRuns.Console.Tests;

/// <summary>
/// The operator console in Chromium against the local host: real runs created over the API, answered in the page, followed
/// live over the stream (which the server aborts every few seconds, so the page resumes it with Last-Event-ID).
/// </summary>
public sealed class OperatorConsoleTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private HttpClient Api => fixture.Host.Http;

    [Fact]
    public async Task ARunCreatedOverTheApi_AppearsInTheInbox_AndTheOperatorApprovesIt_AndWatchesItSucceed()
    {
        var runId = await Api.CreateRunAsync("""{"input":{"goal":"Send the weekly update to the team"}}""");
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(ARunCreatedOverTheApi_AppearsInTheInbox_AndTheOperatorApprovesIt_AndWatchesItSucceed), async page =>
        {
            await session.SignInAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Inbox" })).ToBeVisibleAsync();
            var item = InboxItem(page, runId);
            await Expect(item.Locator(".prompt")).ToHaveTextAsync("Approve carrying out: Send the weekly update to the team");
            await Expect(item.Locator(".countdown")).ToHaveTextAsync(new Regex(@"^\d+m \d+s left$"));
            await session.ScreenshotAsync("inbox");

            await item.GetByRole(AriaRole.Link, new() { NameRegex = new Regex("^Open and answer") }).ClickAsync();
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("awaiting_input");
            await Expect(Event(page, "run.awaiting_input")).ToBeVisibleAsync();
            await Expect(page.Locator(".pending .prompt")).ToHaveTextAsync("Approve carrying out: Send the weekly update to the team");
            await session.ScreenshotAsync("run-waiting");
            await session.ScreenshotAsync("console", fullPage: false); // the README's picture (docs/console.png)

            // A real button: focus it and press Enter.
            await page.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).FocusAsync();
            await page.Keyboard.PressAsync("Enter");

            await Expect(Event(page, "run.signal_received")).ToContainTextAsync("by development key");
            await Expect(Event(page, "run.worker.succeeded")).ToBeVisibleAsync();
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("succeeded");
            await Expect(page.Locator(".last-answer")).ToContainTextAsync(new Regex("^approve by development key \\(key_[0-9a-f]{16}\\) at "));
            await Expect(page.Locator(".pending")).ToHaveCountAsync(0);
            await AssertEveryEventOnceAsync(page, runId);
            await session.ScreenshotAsync("run-succeeded");

            await page.GetByRole(AriaRole.Link, new() { Name = "Inbox" }).ClickAsync();
            await Expect(page.Locator($"li.request[data-request-id]").Filter(new() { HasText = runId })).ToHaveCountAsync(0);
        });
        await session.AssertCleanAsync();
        Assert.Equal("succeeded", (await Api.WaitForStatusAsync(runId, "succeeded")).Json.GetProperty("status").GetString());
    }

    [Fact]
    public async Task RejectingWithAReason_FailsTheRun_AtPhoneWidth()
    {
        var runId = await Api.CreateRunAsync("""
            {"input":{"goal":"Email every customer","plan":[{"type":"approval","prompt":"Email all 12,000 customers now?",
             "action":{"tool":"send_email","arguments":{"to":"all-customers@example.com"}}}]}}
            """);
        await using var session = await ConsoleSession.OpenAsync(fixture, width: 390, height: 844);
        await session.RunAsync(nameof(RejectingWithAReason_FailsTheRun_AtPhoneWidth), async page =>
        {
            await session.SignInAsync($"#/runs/{runId}");
            await Expect(page.Locator(".pending .prompt")).ToHaveTextAsync("Email all 12,000 customers now?");
            await Expect(page.Locator(".pending pre.json")).ToContainTextAsync("all-customers@example.com");
            await AssertNoHorizontalScrollAsync(page);
            await session.ScreenshotAsync("run-phone");

            await page.GetByLabel("Reason for rejecting").FillAsync("This would email the wrong list.");
            await page.GetByRole(AriaRole.Button, new() { Name = "Reject" }).ClickAsync();

            await Expect(Event(page, "run.worker.failed")).ToContainTextAsync("\"rejected\"");
            await Expect(Event(page, "run.signal_received")).ToContainTextAsync("This would email the wrong list.");
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("failed");
            await Expect(page.Locator(".last-answer")).ToContainTextAsync("reject by development key");
            await Expect(page.Locator("section.result .reason-code")).ToHaveTextAsync("rejected");
            await Expect(page.Locator("section.result .error-reason")).ToHaveTextAsync("This would email the wrong list.");
            await AssertNoHorizontalScrollAsync(page);
        });
        await session.AssertCleanAsync();
        var run = (await Api.WaitForStatusAsync(runId, "failed")).Json;
        Assert.Equal("rejected", run.GetProperty("error").GetProperty("reason_code").GetString());
    }

    [Fact]
    public async Task CancellingFromTheRunPage_ByKeyboard_WithAReason_ShowsTheRunCancelled_WithTheReasonAndWhoCancelled()
    {
        const string reason = "The customer withdrew the request.\nTicket 4711.";
        var runId = await Api.CreateRunAsync("""{"input":{"goal":"Renew the contract"}}""");
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(CancellingFromTheRunPage_ByKeyboard_WithAReason_ShowsTheRunCancelled_WithTheReasonAndWhoCancelled), async page =>
        {
            await session.SignInAsync($"#/runs/{runId}");
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("awaiting_input");
            var cancel = page.Locator("section.cancel");
            var start = cancel.GetByRole(AriaRole.Button, new() { Name = "Cancel run", Exact = true });
            var question = cancel.Locator(".confirm-question");
            await cancel.GetByLabel("Reason (optional)").FillAsync(reason);

            // The confirmation is in the page, and Escape backs out of it.
            await start.FocusAsync();
            await page.Keyboard.PressAsync("Enter");
            await Expect(question).ToBeFocusedAsync();
            await Expect(question).ToHaveTextAsync("Cancel this run with the reason above?");
            await Expect(cancel.GetByLabel("Reason (optional)")).ToHaveJSPropertyAsync("readOnly", true);
            await session.ScreenshotAsync("cancel-confirm");
            await page.Keyboard.PressAsync("Escape");
            await Expect(question).ToBeHiddenAsync();
            await Expect(start).ToBeFocusedAsync();
            Assert.DoesNotContain(session.Requests, r => r.Url.EndsWith("/cancel", StringComparison.Ordinal));

            await page.Keyboard.PressAsync("Enter");
            await Expect(question).ToBeFocusedAsync();
            await page.Keyboard.PressAsync("Tab");
            await Expect(cancel.GetByRole(AriaRole.Button, new() { Name = "Yes, cancel the run" })).ToBeFocusedAsync();
            await page.Keyboard.PressAsync("Enter");

            await Expect(page.Locator(".run-status")).ToHaveTextAsync("cancelled");
            var cancelled = Event(page, "run.cancelled");
            await Expect(cancelled.Locator(".actor")).ToHaveTextAsync("by development key");
            await Expect(cancelled.Locator(".event-reason")).ToHaveTextAsync("Reason: " + reason);
            await Expect(cancelled.Locator("pre.json")).ToContainTextAsync("\"reason\": \"The customer withdrew the request.\\nTicket 4711.\"");
            var result = page.Locator("section.result");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Why it ended" })).ToBeFocusedAsync();
            await Expect(result.Locator(".reason-code")).ToHaveTextAsync("cancelled_by_user");
            await Expect(result.Locator(".error-reason")).ToHaveTextAsync(reason);
            await Expect(result.Locator(".cancelled-by")).ToHaveTextAsync(new Regex("^development key \\(key_[0-9a-f]{16}\\) at "));
            await Expect(cancel).ToBeHiddenAsync();
            await Expect(page.Locator(".pending")).ToHaveCountAsync(0);
            await AssertEveryEventOnceAsync(page, runId);
            await session.ScreenshotAsync("run-cancelled");
        });
        await session.AssertCleanAsync();

        // One POST, with the key in the Authorization header, an Idempotency-Key and the reason.
        var post = Assert.Single(session.Requests, r => r.Method == "POST" && r.Url.EndsWith($"/v1/runs/{runId}/cancel", StringComparison.Ordinal));
        Assert.Equal("Bearer " + fixture.Host.Settings.ApiKey, post.Headers["authorization"]);
        Assert.False(string.IsNullOrWhiteSpace(post.Headers["idempotency-key"]));
        Assert.Equal(reason, JsonDocument.Parse(post.PostData!).RootElement.GetProperty("reason").GetString());

        var run = (await Api.WaitForStatusAsync(runId, "cancelled")).Json;
        Assert.Equal("cancelled_by_user", run.GetProperty("error").GetProperty("reason_code").GetString());
        Assert.Equal(reason, run.GetProperty("error").GetProperty("reason").GetString());
        var value = (await Api.EventsAsync(runId)).Single(e => e.GetProperty("type").GetString() == "run.cancelled").GetProperty("payload").GetProperty("value");
        Assert.Equal(reason, value.GetProperty("reason").GetString());
        Assert.Equal("development key", value.GetProperty("actor").GetProperty("name").GetString());
    }

    [Fact]
    public async Task CancellingARunThatAlreadyEnded_ShowsTheServicesRefusal_NextToTheControl()
    {
        var runId = await Api.CreateRunAsync("""{"input":{"goal":"Archive the old tickets"}}""");
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(CancellingARunThatAlreadyEnded_ShowsTheServicesRefusal_NextToTheControl), async page =>
        {
            // The page falls behind: its stream never connects, so it sees the run only as it was when the page loaded.
            await Api.WaitForStatusAsync(runId, "awaiting_input");
            await page.RouteAsync("**/events/stream", route => route.AbortAsync());
            await session.SignInAsync($"#/runs/{runId}");
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("awaiting_input");
            var cancel = page.Locator("section.cancel");
            var start = cancel.GetByRole(AriaRole.Button, new() { Name = "Cancel run", Exact = true });
            await Expect(start).ToBeVisibleAsync();

            // Someone else approves it over the API, and it finishes.
            var requestId = (await Api.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}")).Json.GetProperty("pending_input").GetProperty("request_id").GetString();
            var signal = await Api.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", JsonSerializer.Serialize(new { action = "approve", request_id = requestId }));
            Assert.Equal(HttpStatusCode.Accepted, signal.Status);
            await Api.WaitForStatusAsync(runId, "succeeded");
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("awaiting_input"); // still behind

            await cancel.GetByLabel("Reason (optional)").FillAsync("Too late");
            await start.ClickAsync();
            await cancel.GetByRole(AriaRole.Button, new() { Name = "Yes, cancel the run" }).ClickAsync();

            var refusal = cancel.GetByRole(AriaRole.Alert);
            await Expect(refusal).ToHaveTextAsync($"Not cancelled: Run '{runId}' has already ended. run_not_cancellable");
            await Expect(refusal.Locator("code.reason-code")).ToHaveTextAsync("run_not_cancellable");

            // The page catches up: the run succeeded; the refusal stays, the control goes.
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("succeeded");
            await Expect(start).ToBeHiddenAsync();
            await Expect(refusal).ToBeVisibleAsync();
            await session.ScreenshotAsync("cancel-refused");
        });
        await session.AssertCleanAsync();
        var post = Assert.Single(session.Requests, r => r.Method == "POST" && r.Url.EndsWith($"/v1/runs/{runId}/cancel", StringComparison.Ordinal));
        Assert.Equal(409, (await post.ResponseAsync())!.Status);
        Assert.Equal("succeeded", (await Api.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}")).Json.GetProperty("status").GetString());
    }

    [Fact]
    public async Task ACancelReasonThatLooksLikeHtml_IsShownAsText_AtPhoneWidth()
    {
        const string reason = "<img src=x onerror=alert(1)>";
        var runId = await Api.CreateRunAsync("""{"input":{"goal":"Publish the release notes"}}""");
        await using var session = await ConsoleSession.OpenAsync(fixture, width: 390, height: 844);
        await session.RunAsync(nameof(ACancelReasonThatLooksLikeHtml_IsShownAsText_AtPhoneWidth), async page =>
        {
            await session.SignInAsync($"#/runs/{runId}");
            // Once it waits: the request's card, shown when it starts to, pushes the cancel control down the page, and a click
            // made while it moves can land beside it (failed once on CI: the confirmation never opened).
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("awaiting_input");
            var cancel = page.Locator("section.cancel");
            await cancel.GetByLabel("Reason (optional)").FillAsync(reason);
            await cancel.GetByRole(AriaRole.Button, new() { Name = "Cancel run", Exact = true }).ClickAsync();
            await AssertNoHorizontalScrollAsync(page);
            await cancel.GetByRole(AriaRole.Button, new() { Name = "Yes, cancel the run" }).ClickAsync();

            await Expect(page.Locator(".run-status")).ToHaveTextAsync("cancelled");
            var result = page.Locator("section.result");
            await Expect(result.Locator(".error-reason")).ToHaveTextAsync(reason);
            await Expect(result.Locator(".cancelled-by")).ToContainTextAsync("development key");
            await Expect(Event(page, "run.cancelled").Locator(".event-reason")).ToHaveTextAsync("Reason: " + reason);
            await Expect(Event(page, "run.cancelled").Locator("pre.json")).ToContainTextAsync(reason);
            await AssertNoHorizontalScrollAsync(page);
            await session.ScreenshotAsync("run-cancelled-phone");

            Assert.Equal(0, await page.Locator("main img, main script").CountAsync());
        });
        await session.AssertCleanAsync(); // no dialog: alert(1) never ran
        Assert.Equal(reason, (await Api.WaitForStatusAsync(runId, "cancelled")).Json.GetProperty("error").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task ASchemaForm_RefusedByTheServer_ShowsTheErrorAtTheField_ThenTheFixedAnswerIsAccepted()
    {
        var runId = await Api.CreateRunAsync("""
            {"input":{"goal":"Send the report","plan":[{"type":"data","prompt":"Who should get the report?",
             "response_schema":{"type":"object","required":["to","copies"],"properties":{
               "to":{"type":"string","title":"Recipient","pattern":"^[^@ ]+@[^@ ]+$"},
               "copies":{"type":"integer","minimum":1,"title":"Copies"},
               "format":{"enum":["pdf","html"],"title":"Format"},
               "urgent":{"type":"boolean","title":"Urgent"},
               "tags":{"type":"array","items":{"type":"string"},"title":"Tags"},
               "routing":{"oneOf":[{"type":"string"},{"type":"object"}],"title":"Routing"}}}}]}}
            """);
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(ASchemaForm_RefusedByTheServer_ShowsTheErrorAtTheField_ThenTheFixedAnswerIsAccepted), async page =>
        {
            await session.SignInAsync($"#/runs/{runId}");
            await Expect(page.Locator(".pending .prompt")).ToHaveTextAsync("Who should get the report?");
            var form = page.Locator("form.answer").Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = "Submit input" }) });
            await form.GetByLabel("Recipient").FillAsync("nobody");
            await form.GetByLabel("Copies").FillAsync("2");
            await form.GetByLabel("Format").SelectOptionAsync(new SelectOptionValue { Label = "pdf" });
            await form.GetByLabel("Urgent").CheckAsync();
            await form.GetByLabel("Tags").FillAsync("finance\nq1");
            await Expect(form.GetByLabel("Routing")).ToBeVisibleAsync(); // what the form cannot express: a JSON editor
            await form.GetByRole(AriaRole.Button, new() { Name = "Submit input" }).ClickAsync();

            // The server refused it: its error is shown at the field, and the run still waits.
            var to = form.Locator(".field[data-pointer='/to']");
            await Expect(to.Locator(".field-error")).ToContainTextAsync("pattern");
            await Expect(form.GetByLabel("Recipient")).ToHaveAttributeAsync("aria-invalid", "true");
            await Expect(form.Locator(".field[data-pointer='/copies'] .field-error")).ToBeHiddenAsync();
            await session.ScreenshotAsync("schema-form-refused");
            Assert.Equal("awaiting_input", (await Api.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}")).Json.GetProperty("status").GetString());

            await form.GetByLabel("Recipient").FillAsync("ops@example.com");
            await form.GetByRole(AriaRole.Button, new() { Name = "Submit input" }).ClickAsync();

            await Expect(Event(page, "run.worker.succeeded")).ToContainTextAsync("ops@example.com");
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("succeeded");
        });
        await session.AssertCleanAsync();
        var output = (await Api.WaitForStatusAsync(runId, "succeeded")).Json.GetProperty("output");
        Assert.Equal(
            """{"to":"ops@example.com","copies":2,"format":"pdf","urgent":true,"tags":["finance","q1"]}""",
            output.GetProperty("human_inputs")[0].GetRawText());
    }

    [Fact]
    public async Task ApprovingWithEdits_CarriesOutTheEditedArguments()
    {
        var runId = await Api.CreateRunAsync("""
            {"input":{"goal":"Send the update","plan":[{"type":"approval","prompt":"Send the weekly update?",
             "action":{"tool":"send_email","arguments":{"to":"all@example.com","subject":"Weekly"}},"allow_edits":true,
             "response_schema":{"type":"object","required":["to","subject"],"additionalProperties":false,
               "properties":{"to":{"type":"string"},"subject":{"type":"string"}}}}]}}
            """);
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(ApprovingWithEdits_CarriesOutTheEditedArguments), async page =>
        {
            await session.SignInAsync($"#/runs/{runId}");
            var form = page.Locator("form.answer").Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = "Approve with edits" }) });
            await Expect(form.GetByRole(AriaRole.Textbox, new() { Name = "to", Exact = true })).ToHaveValueAsync("all@example.com");
            await Expect(form.GetByRole(AriaRole.Textbox, new() { Name = "subject", Exact = true })).ToHaveValueAsync("Weekly");

            await form.GetByRole(AriaRole.Textbox, new() { Name = "to", Exact = true }).FillAsync("team@example.com");
            await form.GetByRole(AriaRole.Button, new() { Name = "Approve with edits" }).ClickAsync();

            await Expect(Event(page, "run.signal_received")).ToContainTextAsync("\"edited\": true");
            await Expect(Event(page, "run.worker.succeeded")).ToContainTextAsync("team@example.com");
            await Expect(page.Locator(".run-status")).ToHaveTextAsync("succeeded");
        });
        await session.AssertCleanAsync();
        var output = (await Api.WaitForStatusAsync(runId, "succeeded")).Json.GetProperty("output");
        Assert.Equal("""{"to":"team@example.com","subject":"Weekly"}""", output.GetProperty("approved_actions")[0].GetProperty("arguments").GetRawText());
    }

    [Fact]
    public async Task AnAnswerWithoutASchema_IsWrittenAsJson_AndItsSecretsAreShownMasked()
    {
        var runId = await Api.CreateRunAsync("""
            {"input":{"goal":"Connect the CRM","plan":[{"type":"clarification","prompt":"Which account, and its token?"}]}}
            """);
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(AnAnswerWithoutASchema_IsWrittenAsJson_AndItsSecretsAreShownMasked), async page =>
        {
            await session.SignInAsync($"#/runs/{runId}");
            var form = page.Locator("form.answer").Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = "Submit input" }) });
            var editor = form.GetByRole(AriaRole.Textbox, new() { Name = "Your input" });
            await editor.FillAsync("{\"account\": \"acme\"");
            await form.GetByRole(AriaRole.Button, new() { Name = "Submit input" }).ClickAsync();
            await Expect(form.Locator(".field-error")).ToContainTextAsync("not valid JSON"); // checked before it is sent

            await editor.FillAsync("""{"account": "acme", "api_token": "tok-s3cret-123"}""");
            await form.GetByRole(AriaRole.Button, new() { Name = "Submit input" }).ClickAsync();

            var answer = Event(page, "run.signal_received");
            await Expect(answer.Locator("mark.redacted")).ToHaveTextAsync("\"[REDACTED]\"");
            await Expect(answer.Locator(".redacted-badge")).ToHaveTextAsync("redacted");
            await Expect(answer).ToContainTextAsync("\"acme\"");
            await Expect(Event(page, "run.worker.succeeded")).ToBeVisibleAsync();
            await Expect(page.GetByText("tok-s3cret-123")).ToHaveCountAsync(0);
        });
        await session.AssertCleanAsync();
    }

    [Fact]
    public async Task APromptThatLooksLikeHtml_IsShownAsText_AndRunsNothing()
    {
        const string prompt = "<img src=x onerror=alert(1)>";
        const string goal = "<script>alert(2)</script><b>bold?</b>";
        var runId = await Api.CreateRunAsync(JsonSerializer.Serialize(new
        {
            input = new { goal, plan = new object[] { new { type = "approval", prompt, action = new { tool = "<svg onload=alert(3)>" } } } },
        }));
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(APromptThatLooksLikeHtml_IsShownAsText_AndRunsNothing), async page =>
        {
            await session.SignInAsync();
            var item = InboxItem(page, runId);
            await Expect(item.Locator(".prompt")).ToHaveTextAsync(prompt);
            await Expect(page.GetByText(prompt, new() { Exact = true })).ToBeVisibleAsync();

            await page.GotoAsync($"/console#/runs/{runId}");
            await Expect(page.Locator(".pending .prompt")).ToHaveTextAsync(prompt);
            await Expect(page.Locator(".summary .goal")).ToHaveTextAsync(goal);
            await Expect(page.Locator(".pending pre.json")).ToContainTextAsync("<svg onload=alert(3)>");
            await Expect(Event(page, "run.created")).ToContainTextAsync("<script>alert(2)</script>");

            await page.GotoAsync("/console#/runs");
            await Expect(page.Locator("table.runs td.goal").Filter(new() { HasText = "<script>" }).First).ToHaveTextAsync(goal);

            // Nothing the service returned became markup.
            Assert.Equal(0, await page.Locator("main img, main svg, main script, main b").CountAsync());
            Assert.Equal(1, await page.Locator("script").CountAsync()); // the page's own module
        });
        await session.AssertCleanAsync(); // no dialog
    }

    [Fact]
    public async Task AWrongKey_IsRefused_AndTheRightOneIsKeptInSessionStorageOnly()
    {
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(AWrongKey_IsRefused_AndTheRightOneIsKeptInSessionStorageOnly), async page =>
        {
            await page.GotoAsync("/console");
            await page.GetByLabel("API key").FillAsync("ark_wrong_" + Guid.NewGuid().ToString("N"));
            await page.GetByRole(AriaRole.Button, new() { Name = "Use this key" }).ClickAsync();

            await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("This key was refused: it is unknown or revoked.");
            await Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Sections" })).ToBeHiddenAsync();
            Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('agent-runs.api-key')"));

            await page.GetByLabel("API key").FillAsync(fixture.Host.Settings.ApiKey);
            await page.GetByLabel("API key").PressAsync("Enter");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Inbox" })).ToBeVisibleAsync();
            Assert.Equal(fixture.Host.Settings.ApiKey, await page.EvaluateAsync<string?>("sessionStorage.getItem('agent-runs.api-key')"));
            Assert.Equal(0, await page.EvaluateAsync<int>("localStorage.length"));
            Assert.Empty(await session.Context.CookiesAsync());
            Assert.DoesNotContain(fixture.Host.Settings.ApiKey, page.Url, StringComparison.Ordinal);
            Assert.All(session.Requests, r => Assert.DoesNotContain(fixture.Host.Settings.ApiKey, r.Url, StringComparison.Ordinal));

            // Forgetting the key asks for one again.
            await page.GetByRole(AriaRole.Button, new() { Name = "Forget key" }).ClickAsync();
            await Expect(page.GetByLabel("API key")).ToBeVisibleAsync();
            Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('agent-runs.api-key')"));
        });
        await session.AssertCleanAsync();
    }

    [Fact]
    public async Task ARunStartedFromAGoal_IsListedByItsStatus()
    {
        await using var session = await ConsoleSession.OpenAsync(fixture);
        string runId = "";
        await session.RunAsync(nameof(ARunStartedFromAGoal_IsListedByItsStatus), async page =>
        {
            await session.SignInAsync("#/new");
            await page.GetByLabel("Goal").FillAsync("Prepare the board deck");
            await page.GetByRole(AriaRole.Button, new() { Name = "Start run" }).ClickAsync();

            await Expect(page.Locator(".run-status")).ToHaveTextAsync("awaiting_input");
            runId = Regex.Match(page.Url, "#/runs/(run_[0-9a-z]{26})$").Groups[1].Value;
            Assert.NotEmpty(runId);
            await Expect(page.Locator(".summary .goal")).ToHaveTextAsync("Prepare the board deck");

            await page.GetByRole(AriaRole.Link, new() { Name = "Runs" }).ClickAsync();
            await page.GetByLabel("Status").SelectOptionAsync("awaiting_input");
            await Expect(page.Locator("table.runs tr").Filter(new() { HasText = runId })).ToContainTextAsync("awaiting input");
            await page.GetByLabel("Status").SelectOptionAsync("succeeded");
            await Expect(page).ToHaveURLAsync(new Regex("#/runs\\?status=succeeded$"));
            await Expect(page.Locator("table.runs tbody")).Not.ToContainTextAsync(runId);
        });
        await session.AssertCleanAsync();
        var run = (await Api.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}")).Json;
        Assert.Equal("Prepare the board deck", run.GetProperty("input").GetProperty("goal").GetString());
    }

    [Fact]
    public async Task TheRunView_ResumesItsStreamWithLastEventId_AfterTheServersBound_AndShowsEveryEventOnce()
    {
        var runId = "";
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(TheRunView_ResumesItsStreamWithLastEventId_AfterTheServersBound_AndShowsEveryEventOnce), async page =>
        {
            await session.SignInAsync();

            // Work that outlasts the stream's bound, started once the page is ready to follow it: the server aborts the
            // response mid-run and the page must come back for the rest.
            runId = await Api.CreateRunAsync($$$"""
                {"input":{"goal":"Long work","plan":[{"type":"work","tool":"crunch","duration_seconds":{{{ConsoleFixture.StreamBoundSeconds * 3}}}},
                 {"type":"work","tool":"report"},{"type":"finish","output":{"ok":true}}]}}
                """);
            await page.GotoAsync($"/console#/runs/{runId}");
            await Expect(Event(page, "run.worker.succeeded")).ToBeVisibleAsync();
            await AssertEveryEventOnceAsync(page, runId);
            await Expect(page.Locator(".stream-state")).ToHaveTextAsync("ended");
        });
        await session.AssertCleanAsync();
        var resumed = session.Requests.Where(r => r.Url.EndsWith($"/v1/runs/{runId}/events/stream", StringComparison.Ordinal)).ToList();
        Assert.True(resumed.Count >= 2, $"the stream was opened {resumed.Count} time(s)");
        Assert.Contains(resumed, r => r.Headers.TryGetValue("last-event-id", out var id) && long.Parse(id, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.All(resumed, r => Assert.StartsWith("Bearer ", r.Headers["authorization"], StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheBrowserEnforcesThePolicy_NoStringBecomesHtml_AndNothingLoadsFromElsewhere()
    {
        await using var session = await ConsoleSession.OpenAsync(fixture);
        await session.RunAsync(nameof(TheBrowserEnforcesThePolicy_NoStringBecomesHtml_AndNothingLoadsFromElsewhere), async page =>
        {
            await page.GotoAsync("/console");
            await Expect(page.GetByLabel("API key")).ToBeVisibleAsync();

            // Trusted Types: even a script of the page could not turn a string into HTML.
            var innerHtml = await page.EvaluateAsync<string>(
                "() => { try { document.body.innerHTML = '<img src=x>'; return 'assigned'; } catch (e) { return e.name; } }");
            Assert.Equal("TypeError", innerHtml);

            var script = await page.EvaluateAsync<string>(
                "() => { try { document.createElement('script').textContent = 'window.ran = true'; return 'assigned'; } catch (e) { return e.name; } }");
            Assert.Equal("TypeError", script);

            // Nothing loads from another origin: the browser refuses it and says so.
            await page.EvaluateAsync("() => { const img = document.createElement('img'); img.src = 'https://example.invalid/x.png'; document.body.append(img); }");
        });
        var refused = await Eventually.GetAsync(
            () => Task.FromResult(session.Errors.ToList()), e => e.Any(m => m.Contains("img-src", StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "the policy's refusal");
        Assert.Contains(refused, m => m.Contains("example.invalid", StringComparison.Ordinal));
    }

    private static ILocator InboxItem(IPage page, string runId) =>
        page.Locator("li.request").Filter(new() { Has = page.Locator("code", new() { HasText = runId }) });

    private static ILocator Event(IPage page, string type) => page.Locator($".event[data-type='{type}']");

    /// <summary>The page shows seq 1, 2, 3… with no gap or duplicate: exactly the run's log.</summary>
    private async Task AssertEveryEventOnceAsync(IPage page, string runId)
    {
        var log = await Api.EventsAsync(runId);
        await Expect(page.Locator(".event")).ToHaveCountAsync(log.Count);
        var shown = await page.Locator(".event").EvaluateAllAsync<long[]>("els => els.map(e => Number(e.dataset.seq))");
        Assert.Equal(log.Select(e => e.GetProperty("seq").GetInt64()), shown);
    }

    private static async Task AssertNoHorizontalScrollAsync(IPage page) =>
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways");
}

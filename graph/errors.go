package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/errs"
)

// presentError gives every error a machine-readable extensions.code.
// Errors Gantry does not classify are logged and replaced by a generic
// message: database errors can carry values the client did not send.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	if gerr.Extensions != nil && gerr.Extensions["code"] != nil {
		return gerr // gqlgen's own parse/validation errors
	}
	code, msg, field := classify(err)
	if code == errs.Internal {
		slog.ErrorContext(ctx, "graphql resolver failed", "path", gerr.Path.String(), "err", err)
	}
	gerr.Message = msg
	if gerr.Extensions == nil {
		gerr.Extensions = map[string]any{}
	}
	gerr.Extensions["code"] = string(code)
	if field != "" {
		gerr.Extensions["field"] = field
	}
	return gerr
}

func classify(err error) (code errs.Code, msg, field string) {
	var (
		e    *errs.Error
		verr *ent.ValidationError
		nerr *ent.NotFoundError
		cerr *ent.ConstraintError
		gerr *gqlerror.Error
	)
	switch {
	case errors.As(err, &e):
		return e.Code, e.Error(), e.Field
	case errors.As(err, &verr):
		return errs.InvalidInput, fmt.Sprintf("invalid %s: %v", verr.Name, errors.Unwrap(verr)), verr.Name
	case errors.As(err, &nerr):
		return errs.NotFound, nerr.Error(), ""
	case errors.As(err, &cerr):
		return errs.Conflict, "conflict: " + constraintMessage(cerr), ""
	case errors.As(err, &gerr) && (gerr.Rule != "" || strings.HasPrefix(gerr.Error(), "input:")):
		// gqlgen's argument coercion: a scalar or enum refused the value.
		return errs.InvalidInput, gerr.Message, ""
	}
	if cause := errors.Unwrap(err); cause != nil && errs.CodeOf(cause) != "" {
		return classify(cause)
	}
	return errs.Internal, "internal error", ""
}

// constraintMessage names the violated constraint without echoing values.
func constraintMessage(cerr *ent.ConstraintError) string {
	msg := cerr.Error()
	switch {
	case contains(msg, "executor_hosts_name_key", "executor_hosts.name"):
		return "an executor host with this name already exists"
	case contains(msg, "container_templates_name_key", "container_templates.name"):
		return "a container template with this name already exists"
	case contains(msg, "idempotency_key"):
		return "a job with this idempotency key already exists"
	case contains(msg, "check_"):
		return "a database CHECK constraint rejected the value"
	}
	return "a database constraint rejected the change"
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// recoverPanic turns a resolver panic into an INTERNAL error, logged with
// its value, never a stack trace to the client.
func recoverPanic(ctx context.Context, p any) error {
	slog.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(p))
	return errs.New(errs.Internal, "internal error")
}
